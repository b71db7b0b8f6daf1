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
/// The batcher's process function is held while the caller starts, so its wait for record 1 is registered before the
/// result exists and the resumer runs it (had the batch finished first, the caller would go on on its own thread, with
/// no resumer).
/// </summary>
internal sealed class ResumedCaller
{
    private const int Attempts = 5;

    private int _clockReadsInThirdSubmit = -1;
    private volatile bool _resumerKeptItsTurn;

    private readonly Pipeline<Costed, Costed> _engine; // the run the caller's records go through

    private ResumedCaller(DynamicBatcher<Costed, Costed> batcher)
    {
        _engine = Engine.Of(batcher);
        Third = RunAsync(batcher);
    }

    /// <summary>The third record's result.</summary>
    public Task<Costed> Third { get; }

    /// <summary>How many timestamps the third submit read, once it was made; -1 before.</summary>
    public int ClockReadsInThirdSubmit => Volatile.Read(ref _clockReadsInThirdSubmit);

    /// <summary>
    /// Whether a resumer was due to pack both before and after the third submit. Not so when the packing thread's
    /// watch took the worker over meanwhile: it does that to a worker whose caller's continuation seems stuck for a few
    /// milliseconds (a JIT pause, a busy machine), and the submit then rightly reads the clock.
    /// </summary>
    public bool ResumerKeptItsTurn => _resumerKeptItsTurn;

    /// <summary>
    /// Waits until record 3 was submitted and the resumer packed it; returns <see cref="ResumerKeptItsTurn"/> (false: the
    /// attempt tells nothing about an unstamped submit, see <see cref="UntilTheResumerKeepsItsTurnAsync"/>).
    /// </summary>
    public async Task<bool> ThirdPackedInAnUninterruptedTurnAsync()
    {
        await Wait.UntilAsync(
            () => ClockReadsInThirdSubmit >= 0 && _engine.Intake.WaitingCount == 0,
            "record 3 was submitted by its resumed caller and packed");
        return ResumerKeptItsTurn;
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> (a batcher of its own, a caller started on it, the checks) until one attempt's
    /// resumer kept its turn through the third submit (the attempt returns false when it did not); fails after a few.
    /// </summary>
    public static async Task UntilTheResumerKeepsItsTurnAsync(Func<Task<bool>> attempt)
    {
        for (int i = 0; i < Attempts; i++)
        {
            if (await attempt())
            {
                return;
            }
        }

        Assert.Fail($"The packing thread's watch took the worker over in all {Attempts} attempts.");
    }

    /// <summary>
    /// Submits records 1 and 2 and waits for record 1's result (returns once that wait is registered); record 3 follows
    /// when the result arrives.
    /// </summary>
    public static ResumedCaller Start(DynamicBatcher<Costed, Costed> batcher, RecordingProcessor<Costed> processor)
    {
        using (processor.Hold())
        {
            return new ResumedCaller(batcher);
        }
    }

    private async Task<Costed> RunAsync(DynamicBatcher<Costed, Costed> batcher)
    {
        var packer = _engine.Packer;
        var first = batcher.SubmitAsync(new Costed(1, 1));
        var second = batcher.SubmitAsync(new Costed(2, 1));
        await first.ConfigureAwait(false); // no context: the continuation runs inline, on the resumer's thread
        bool resumerBefore = packer.ResumerWillPack;
        int before = ReadCountingClock.ReadsOnThisThread;
        var third = batcher.SubmitAsync(new Costed(3, 1));
        int reads = ReadCountingClock.ReadsOnThisThread - before;
        _resumerKeptItsTurn = resumerBefore && packer.ResumerWillPack;
        Volatile.Write(ref _clockReadsInThirdSubmit, reads); // after the flag: a reader that sees the count sees the flag
        await second.ConfigureAwait(false);
        return await third.ConfigureAwait(false);
    }
}
