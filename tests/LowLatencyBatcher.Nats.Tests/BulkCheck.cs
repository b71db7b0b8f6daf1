using System.Diagnostics;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Runs a bulk run of test records to its end and checks every record's result.</summary>
internal sealed class BulkCheck
{
    private readonly bool[] _seen;

    private BulkCheck(int count) => _seen = new bool[count];

    /// <summary>Records that got a correct result.</summary>
    public int Correct { get; private set; }

    /// <summary>Results per worker.</summary>
    public Dictionary<string, int> PerWorker { get; } = [];

    /// <summary>How long the run took.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>Records without a result (must be 0).</summary>
    public int Lost => _seen.Count(seen => !seen);

    /// <summary>
    /// Enumerates <paramref name="run"/> (of records 0 … <paramref name="count"/> − 1) to its end, checking each result
    /// as it arrives; <paramref name="onResult"/> sees the number of results so far.
    /// </summary>
    public static async Task<BulkCheck> RunAsync(
        BulkRun<int[], long> run, int count, Func<int, Task>? onResult = null, TimeSpan? bound = null)
    {
        var check = new BulkCheck(count);
        var watch = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(bound ?? Records.Bound);
        await foreach (var result in run.WithCancellation(timeout.Token))
        {
            Assert.True(result.IsSuccess, $"record {result.Index} failed: {result.Error}");
            Assert.InRange(result.Index, 0, count - 1);
            Assert.False(check._seen[result.Index], $"record {result.Index} was yielded twice");
            Assert.Equal(Records.Expected(result.Index), result.Value);
            check._seen[result.Index] = true;
            check.Correct++;
            string worker = result.WorkerId ?? "?";
            check.PerWorker[worker] = check.PerWorker.GetValueOrDefault(worker) + 1;
            if (onResult is not null)
            {
                await onResult(check.Correct);
            }
        }

        check.Elapsed = watch.Elapsed;
        return check;
    }
}
