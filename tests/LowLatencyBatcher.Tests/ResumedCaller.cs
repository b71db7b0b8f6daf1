using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>A fake clock that counts, on each thread, how often that thread read it.</summary>
internal sealed class ReadCountingClock : FakeTimeProvider
{
    [ThreadStatic]
    private static int t_reads;

    /// <summary>How many timestamps the calling thread has read so far.</summary>
    public static int ReadsOnThisThread => t_reads;

    public override long GetTimestamp()
    {
        t_reads++;
        return base.GetTimestamp();
    }
}

/// <summary>
/// A caller whose first two records make a batch (with <c>MinBatchSize</c> 2) and who, resumed with the first one's
/// result on the resumer's thread, submits a third right away: a submit made while a batch's callers are being resumed.
/// </summary>
internal sealed class ResumedCaller
{
    private int _clockReadsInThirdSubmit = -1;

    private ResumedCaller(DynamicBatcher<Costed, Costed> batcher) => Third = RunAsync(batcher);

    /// <summary>The third record's result.</summary>
    public Task<Costed> Third { get; }

    /// <summary>How many timestamps the third submit read, once it was made; -1 before.</summary>
    public int ClockReadsInThirdSubmit => Volatile.Read(ref _clockReadsInThirdSubmit);

    /// <summary>Submits records 1 and 2 now; record 3 follows when record 1's result arrives.</summary>
    public static ResumedCaller Start(DynamicBatcher<Costed, Costed> batcher) => new(batcher);

    private async Task<Costed> RunAsync(DynamicBatcher<Costed, Costed> batcher)
    {
        var first = batcher.SubmitAsync(new Costed(1, 1));
        var second = batcher.SubmitAsync(new Costed(2, 1));
        await first.ConfigureAwait(false); // no context: the continuation runs inline, on the resumer's thread
        int before = ReadCountingClock.ReadsOnThisThread;
        var third = batcher.SubmitAsync(new Costed(3, 1));
        Volatile.Write(ref _clockReadsInThirdSubmit, ReadCountingClock.ReadsOnThisThread - before);
        await second.ConfigureAwait(false);
        return await third.ConfigureAwait(false);
    }
}
