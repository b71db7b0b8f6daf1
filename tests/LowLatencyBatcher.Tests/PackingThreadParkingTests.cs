using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

[CollectionDefinition(nameof(PackingThreadParkingTests), DisableParallelization = true)]
public class PackingThreadParkingTestsCollection;

/// <summary>
/// Measures the packing thread's CPU time while it should be parked. The collection runs alone so that no other
/// batcher's packing thread is counted.
/// </summary>
[Collection(nameof(PackingThreadParkingTests))]
public class PackingThreadParkingTests
{
    [Fact]
    public async Task Rule6_Buckets_WhenTheLanePickedFirstWaitsForItsFullBucket_TheNextLanesRecordIsPlacedAndTheThreadParks()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed>
            {
                PriorityLanes = 2, PriorityAging = TimeSpan.FromMilliseconds(50), CostBuckets = [10], TargetBatchCost = 1_000,
                MaxBatchSize = 2, PrefetchBatches = 1, Workers = 1, BatchTimeout = TimeSpan.FromHours(1), TimeProvider = time, PinPackingThread = false,
            });
        await batcher.StartAsync();
        var urgent = new SubmitOptions { Priority = 0 };
        var bulk = new SubmitOptions { Priority = 1 };
        using var gate = processor.Hold();
        var all = new List<Task<Costed>> { batcher.SubmitAsync(new Costed(1, 1), urgent).AsTask() };
        try
        {
            await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [1]");
            all.Add(batcher.SubmitAsync(new Costed(2, 1), urgent).AsTask());
            all.Add(batcher.SubmitAsync(new Costed(3, 1), urgent).AsTask());
            await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[2, 3] fills the only prefetch slot");
            all.Add(batcher.SubmitAsync(new Costed(4, 1), urgent).AsTask());
            all.Add(batcher.SubmitAsync(new Costed(5, 1), urgent).AsTask()); // bucket 0's open batch is full
            all.Add(batcher.SubmitAsync(new Costed(6, 1), urgent).AsTask()); // waits at lane 0's head: bucket 0 is full
            await Wait.UntilAsync(() => batcher.Stats.QueueDepth == 0, "[4, 5] is packed and 6 waits at its lane's head");
            time.Advance(TimeSpan.FromMilliseconds(1));
            all.Add(batcher.SubmitAsync(new Costed(50, 100), bulk).AsTask()); // bucket 1; waits: not urgent while prefetch is full
            await Wait.UntilAsync(() => batcher.Stats.QueueDepth == 0, "50 waits at its lane's head");
            time.Advance(TimeSpan.FromMilliseconds(50)); // both heads aged: 6 (the older) is picked first, but cannot be placed
            all.Add(batcher.SubmitAsync(new Costed(7, 1), urgent).AsTask()); // wakes the packing thread; stays queued behind 6

            // 50 is placeable (aged, and bucket 1 has room): it joins bucket 1's batch, and then nothing is left to do.
            var packer = Engine.Of(batcher).Packer;
            await Task.Delay(100);
            var wall = Stopwatch.StartNew();
            var before = PackingThreadCpu();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var cpu = PackingThreadCpu() - before;
            wall.Stop();
            Assert.Multiple(
                () => Assert.True(
                    cpu < wall.Elapsed / 10, // parked, it uses next to nothing; spinning, a large share of a core even on a loaded machine
                    $"the packing thread used {cpu.TotalMilliseconds:F0} ms of CPU in {wall.Elapsed.TotalMilliseconds:F0} ms with nothing to do"),
                () => Assert.Equal(1, packer.OpenBatchEntryCount(1)), // 50 was placed, not held back
                () => Assert.Equal(2, packer.OpenBatchEntryCount(0)));
        }
        finally
        {
            processor.Release(); // also when an assertion failed: the stop awaits the held call
        }

        await Task.WhenAll(all).Bounded();
        Assert.Equal([[1], [2, 3], [4, 5], [6, 7], [50]], processor.Batches.Select(b => b.Select(r => r.Id).ToArray()));
    }

    /// <summary>
    /// The CPU time used so far by the packing threads (on Linux, read per thread from <c>/proc</c>; the kernel keeps
    /// the first 15 bytes of a thread's name), else by the whole process.
    /// </summary>
    private static TimeSpan PackingThreadCpu()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.CpuUsage.TotalTime;
        }

        long ticks = 0;
        int threads = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread exited
            }

            int nameEnd = stat.LastIndexOf(')');
            if (!stat[(stat.IndexOf('(') + 1)..nameEnd].StartsWith("LowLatencyBatch", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = stat[(nameEnd + 2)..].Split(' ');
            ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture); // utime, stime
            threads++;
        }

        Assert.True(threads > 0, "no packing thread found in /proc/self/task");
        return TimeSpan.FromSeconds((double)ticks / SysConf(ClockTicksName));
    }

    private const int ClockTicksName = 2; // _SC_CLK_TCK

    [DllImport("libc", EntryPoint = "sysconf")]
    private static extern long SysConf(int name);
}
