using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using LowLatencyBatcher;

// Soak: runs a batcher at high load for N minutes and watches for slow growth.
//
//   dotnet run -c Release --project tests/LowLatencyBatcher.Soak -- --minutes 1
//
// Load: 64 producers (8 submits in flight each) with random costs, 1% of records cancelled by their caller, 1% of
// batches failing in the process function. Every record's outcome is checked.
// Samples (after forced, compacting, blocking full collections): managed heap, bytes allocated per record (about
// 40 here: each batch's result array, at 1.4 records per batch, and the exceptions and token sources of the failed
// and cancelled records; a record that succeeds allocates nothing in the batcher, see AllocationTests), idle
// completions retained by the batcher's pool, process threads.
// Pass: (1) heap growth from the first samples after warm-up to the last ones (medians of 3) is at most
// max(4 MiB, 10% of the baseline); (2) threads at the end at most baseline + 8; (3) the completion pool never retains
// more than its bound; (4) every record completed exactly once with the right outcome and the counts agree.
// Exit code 0 on pass, 1 on failure, 2 on bad arguments.

double minutes = 1;
int producers = 64;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--minutes" when i + 1 < args.Length && double.TryParse(args[++i], CultureInfo.InvariantCulture, out minutes) && minutes > 0:
            break;
        case "--producers" when i + 1 < args.Length && int.TryParse(args[++i], out producers) && producers > 0:
            break;
        default:
            Console.Error.WriteLine("usage: LowLatencyBatcher.Soak [--minutes N (default 1)] [--producers P (default 64)]");
            return 2;
    }
}

var duration = TimeSpan.FromMinutes(minutes);
var warmUp = TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds * 0.2, 10, 60));
var interval = TimeSpan.FromSeconds(Math.Max(2, (duration - warmUp).TotalSeconds / 24));
const int Window = 8;
const int Target = 2_000;

var options = new DynamicBatcherOptions<int>
{
    TargetBatchCost = Target, MaxBatchSize = 128, MaxQueueSize = 1_024, Workers = 2, PrefetchBatches = 2,
    BatchTimeout = TimeSpan.FromMilliseconds(2),
};
long batches = 0, failedBatches = 0;
await using var batcher = new DynamicBatcher<int, long>(
    (batch, _) =>
    {
        long n = Interlocked.Increment(ref batches);
        if (n % 100 == 37)
        {
            Interlocked.Increment(ref failedBatches);
            throw new SoakFault();
        }

        var results = new long[batch.Count];
        for (int i = 0; i < results.Length; i++)
        {
            results[i] = batch[i] * 3L + 1;
        }

        return ValueTask.FromResult<IReadOnlyList<long>>(results);
    },
    options);

var pool = PoolProbe.Find(batcher);
int poolBound = options.MaxQueueSize + options.MaxBatchSize * (options.PrefetchBatches + options.Workers + 1);
await batcher.StartAsync();
using var stop = new CancellationTokenSource();
long ok = 0, faulted = 0, cancelled = 0, wrong = 0;
var load = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
{
    var random = new Random(p);
    var inFlight = new Queue<(int Record, ValueTask<long> Result, CancellationTokenSource? Source)>();
    int record = p;
    while (!stop.IsCancellationRequested || inFlight.Count > 0)
    {
        if (!stop.IsCancellationRequested && inFlight.Count < Window)
        {
            int cost = random.Next(100) < 3 ? Target + 1 : random.Next(0, 60);
            record = (record + producers) & 0x3FFF_FFFF;
            CancellationTokenSource? source = random.Next(100) == 0 ? new CancellationTokenSource() : null;
            inFlight.Enqueue((record, batcher.SubmitAsync(record, cost, source?.Token ?? default), source));
            source?.Cancel();
            continue;
        }

        var (r, task, src) = inFlight.Dequeue();
        try
        {
            if (await task != r * 3L + 1)
            {
                Interlocked.Increment(ref wrong);
            }
            else
            {
                Interlocked.Increment(ref ok);
            }
        }
        catch (SoakFault)
        {
            Interlocked.Increment(ref faulted);
        }
        catch (OperationCanceledException) when (src is not null)
        {
            Interlocked.Increment(ref cancelled);
        }

        src?.Dispose();
    }
})).ToArray();

Console.WriteLine($"soak: {duration.TotalMinutes:F1} min, {producers} producers, warm-up {warmUp.TotalSeconds:F0} s, " +
    $"a sample every {interval.TotalSeconds:F0} s");
Console.WriteLine("  time(s)  records/s    heap(KiB)  alloc(B/record)  idle pooled  threads  total records");
var clock = Stopwatch.StartNew();
var samples = new List<Sample>();
long lastRecords = 0;
long lastAllocated = GC.GetTotalAllocatedBytes(precise: true);
var lastTime = TimeSpan.Zero;
bool poolWithinBound = true;
await Task.Delay(warmUp);
while (true)
{
    var sample = TakeSample();
    samples.Add(sample);
    poolWithinBound &= sample.Pooled is not int pooled || pooled <= poolBound;
    Console.WriteLine($"  {sample.At.TotalSeconds,7:F0}  {sample.RecordsPerSecond,9:N0}  {sample.HeapBytes / 1024,11:N0}  " +
        $"{sample.AllocatedPerRecord,15:F1}  {sample.Pooled?.ToString(CultureInfo.InvariantCulture) ?? "n/a",11}  " +
        $"{sample.Threads,7}  {sample.Records,13:N0}");
    if (clock.Elapsed + interval > duration)
    {
        break;
    }

    await Task.Delay(interval);
}

stop.Cancel();
bool loadEnded = Task.WaitAll(load, TimeSpan.FromMinutes(2));
using var stopBound = new CancellationTokenSource(TimeSpan.FromMinutes(1));
bool stopped = true;
try
{
    await batcher.StopAsync(stopBound.Token);
}
catch (OperationCanceledException)
{
    stopped = false;
}

var stats = batcher.Stats;
long outcomes = ok + faulted + cancelled + wrong;
long baseline = Median(samples.Take(3).Select(s => s.HeapBytes));
long final = Median(samples.TakeLast(3).Select(s => s.HeapBytes));
long allowed = Math.Max(4L << 20, baseline / 10);
int threadsBaseline = samples[0].Threads;
int threadsFinal = samples[^1].Threads;
var failures = new List<string>();
if (final - baseline > allowed)
{
    failures.Add($"heap grew by {(final - baseline) / 1024:N0} KiB (allowed {allowed / 1024:N0} KiB)");
}

if (threadsFinal > threadsBaseline + 8)
{
    failures.Add($"threads grew from {threadsBaseline} to {threadsFinal}");
}

if (!poolWithinBound)
{
    failures.Add($"the completion pool retained more than its bound of {poolBound}");
}

if (!loadEnded || !stopped)
{
    failures.Add("the load or the stop hung");
}

if (wrong != 0)
{
    failures.Add($"{wrong} records got another record's result");
}

if (stats.TotalSubmitted != stats.TotalCompleted || outcomes != stats.TotalSubmitted + (cancelled - stats.TotalCancelled)
    || ok + faulted + stats.TotalCancelled != stats.TotalSubmitted)
{
    failures.Add($"counts disagree: submitted {stats.TotalSubmitted:N0}, completed {stats.TotalCompleted:N0}, outcomes " +
        $"{outcomes:N0} (ok {ok:N0}, failed {faulted:N0}, cancelled {cancelled:N0}; batcher counted {stats.TotalCancelled:N0} cancelled)");
}

Console.WriteLine($"records: {stats.TotalSubmitted:N0} submitted in {stats.TotalBatches:N0} batches; {ok:N0} results, " +
    $"{faulted:N0} failed with their batch ({failedBatches:N0} failing batches), {cancelled:N0} cancelled by their caller");
Console.WriteLine($"heap after forced GC: baseline {baseline / 1024:N0} KiB, final {final / 1024:N0} KiB, growth " +
    $"{(final - baseline) / 1024:N0} KiB (allowed {allowed / 1024:N0} KiB); threads {threadsBaseline} -> {threadsFinal}; " +
    $"allocated {samples.Skip(1).Average(s => s.AllocatedPerRecord):F1} B/record; " +
    $"idle pooled completions at the end {samples[^1].Pooled?.ToString(CultureInfo.InvariantCulture) ?? "n/a"} (bound {poolBound})");
Console.WriteLine(failures.Count == 0 ? "soak: PASS" : "soak: FAIL\n  " + string.Join("\n  ", failures));
return failures.Count == 0 ? 0 : 1;

Sample TakeSample()
{
    for (int i = 0; i < 2; i++)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    long heap = GC.GetTotalMemory(forceFullCollection: true);
    var now = clock.Elapsed;
    long records = batcher.Stats.TotalSubmitted;
    double rate = (records - lastRecords) / Math.Max(0.001, (now - lastTime).TotalSeconds);
    long allocated = GC.GetTotalAllocatedBytes(precise: true);
    double perRecord = (allocated - lastAllocated) / (double)Math.Max(1, records - lastRecords);
    lastAllocated = allocated;
    lastRecords = records;
    lastTime = now;
    using var process = Process.GetCurrentProcess();
    return new Sample(now, heap, pool?.Retained(), process.Threads.Count, records, rate, perRecord);
}

static long Median(IEnumerable<long> values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}

internal sealed record Sample(
    TimeSpan At, long HeapBytes, int? Pooled, int Threads, long Records, double RecordsPerSecond, double AllocatedPerRecord);

internal sealed class SoakFault() : Exception("injected batch failure");

/// <summary>Reads how many completions the batcher's pool retains (a diagnostic; null when the layout is unknown).</summary>
internal sealed class PoolProbe(object pool, FieldInfo count, FieldInfo? fast)
{
    private const BindingFlags Fields = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

    public static PoolProbe? Find(object batcher)
    {
        var completions = FieldOf(batcher.GetType(), "_completions")?.GetValue(batcher);
        var pool = completions is null ? null : FieldOf(completions.GetType(), "_pool")?.GetValue(completions);
        var count = pool is null ? null : FieldOf(pool.GetType(), "_numItems");
        return pool is null || count is null ? null : new PoolProbe(pool, count, FieldOf(pool.GetType(), "_fastItem"));
    }

    public int Retained() => (int)count.GetValue(pool)! + (fast?.GetValue(pool) is null ? 0 : 1);

    private static FieldInfo? FieldOf(Type? type, string name)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (type.GetField(name, Fields) is { } field)
            {
                return field;
            }
        }

        return null;
    }
}
