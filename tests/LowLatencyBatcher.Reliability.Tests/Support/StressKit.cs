using System.Collections.Concurrent;
using System.Reflection;
using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Reliability.Tests.Support;

/// <summary>
/// Pieces shared by the stress tests of the packing features: windowed producers, a logical clock, a violation list,
/// an observer that counts batches by reason, and the checks every run ends with.
/// </summary>
internal static class StressKit
{
    /// <summary>
    /// Runs <paramref name="producers"/> producers over record ids 0..<paramref name="records"/>-1 (each producer a
    /// contiguous slice, in order), each keeping up to <paramref name="window"/> records in flight. <paramref name="one"/>
    /// is invoked in order for each record of a producer; it runs synchronously up to its first await, so submits of one
    /// producer happen in sequence order.
    /// </summary>
    public static Task RunProducers(
        int producers, int records, int window, int seed, Func<int, int, int, Random, Task> one, string what)
    {
        return Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var random = new Random(HashCode.Combine(seed, p, 17));
            int count = records / producers + (p < records % producers ? 1 : 0);
            int first = p * (records / producers) + Math.Min(p, records % producers);
            var inFlight = new Queue<Task>();
            for (int s = 0; s < count; s++)
            {
                if (inFlight.Count >= window)
                {
                    await inFlight.Dequeue();
                }

                inFlight.Enqueue(one(p, first + s, s, random));
            }

            while (inFlight.Count > 0)
            {
                await inFlight.Dequeue();
            }
        }))).Within(Bounded.Run, what);
    }

    /// <summary>
    /// True when the submit took the record before it returned: its task is the record's own completion (the intake
    /// took it, or the idle fast path runs it), or holds its outcome already (the idle fast path ran it to the end: a
    /// result in the task itself, or a plain <see cref="Task{TResult}"/> with the exception). A submit that waits for
    /// room returns the task of its wait instead: an async method's box, a type derived from <see cref="Task{TResult}"/>.
    /// </summary>
    public static bool AcceptedAtOnce<T>(ValueTask<T> task)
    {
        var field = Direct<T>.Field ?? throw new InvalidOperationException("ValueTask<T> has no _obj field to look at");
        return field.GetValue(task) is not { } inside
            || inside is RecordCompletion<T>
            || (inside.GetType() == typeof(Task<T>) && task.IsFaulted);
    }

    /// <summary>
    /// Checks the statistics every run must end with: every accepted record completed, the per-reason batch counts sum
    /// to the total, and the observer saw each counted batch once, with the same reasons.
    /// </summary>
    public static void CheckStats(Violations violations, BatchStats stats, ReasonCounter? observer)
    {
        violations.Expect("completed = submitted after the stop", stats.TotalSubmitted, stats.TotalCompleted);
        violations.Expect("queue depth after the stop", 0, stats.QueueDepth);
        long byReason = stats.FullBatches + stats.BudgetBatches + stats.SizeBatches + stats.EagerBatches
            + stats.TimeoutBatches + stats.ShutdownBatches;
        violations.Expect("sum of the per-reason batch counts = TotalBatches", stats.TotalBatches, byReason);
        if (observer is null)
        {
            return;
        }

        violations.Expect("observer reports = TotalBatches", stats.TotalBatches, observer.Total);
        violations.Expect("observer: full batches", stats.FullBatches, observer[DispatchReason.Full]);
        violations.Expect("observer: budget batches", stats.BudgetBatches, observer[DispatchReason.Budget]);
        violations.Expect("observer: size batches", stats.SizeBatches, observer[DispatchReason.Size]);
        violations.Expect("observer: eager batches", stats.EagerBatches, observer[DispatchReason.Eager]);
        violations.Expect("observer: timeout batches", stats.TimeoutBatches, observer[DispatchReason.Timeout]);
        violations.Expect("observer: shutdown batches", stats.ShutdownBatches, observer[DispatchReason.Shutdown]);
        violations.Expect("observer: records without a reason", 0, observer[DispatchReason.None]);
    }

    /// <summary>The per-reason counts, for the report.</summary>
    public static string Reasons(BatchStats s) =>
        $"{s.TotalBatches:N0} batches (full {s.FullBatches:N0}, budget {s.BudgetBatches:N0}, size {s.SizeBatches:N0}, " +
        $"eager {s.EagerBatches:N0}, timeout {s.TimeoutBatches:N0}, shutdown {s.ShutdownBatches:N0})";

    /// <summary>
    /// FIFO by acceptance: when record a was accepted (its submit returned its own completion) before record b's
    /// submit began, a must be dispatched before b. <paramref name="items"/> holds (accepted stamp or long.MaxValue when
    /// unknown, begin stamp, dispatch position, id). Returns how many records were checked as the later one of a pair
    /// (some record was accepted before its submit began) and adds the violations.
    /// </summary>
    public static long CheckAcceptanceOrder(
        Violations violations, string scope, IReadOnlyList<(long Accepted, long Begin, long Position, int Id)> items)
    {
        var byPosition = items.OrderByDescending(i => i.Position).ToArray();
        long minAcceptedLater = long.MaxValue;
        int minId = -1;
        long constrained = 0;
        long firstAccepted = items.Count == 0 ? long.MaxValue : items.Min(i => i.Accepted);
        foreach (var item in byPosition)
        {
            if (minAcceptedLater < item.Begin)
            {
                violations.Add($"{scope}: record {minId} was accepted (stamp {minAcceptedLater}) before record {item.Id}'s " +
                    $"submit began (stamp {item.Begin}), yet was dispatched after it");
            }

            if (firstAccepted < item.Begin)
            {
                constrained++;
            }

            if (item.Accepted < minAcceptedLater)
            {
                minAcceptedLater = item.Accepted;
                minId = item.Id;
            }
        }

        return constrained;
    }

    private static class Direct<T>
    {
        public static readonly FieldInfo? Field =
            typeof(ValueTask<T>).GetField("_obj", BindingFlags.NonPublic | BindingFlags.Instance);
    }
}

/// <summary>A global logical clock: each tick is unique and later ticks happened later.</summary>
internal sealed class LogicalClock
{
    private long _now;

    public long Tick() => Interlocked.Increment(ref _now);
}

/// <summary>An injected failure of a whole batch: the process function throws it.</summary>
internal sealed class BatchFault() : Exception("injected batch fault");

/// <summary>What the callers of a run saw: their own results, injected batch faults, and completions per record.</summary>
internal sealed class OutcomeTally(int records)
{
    private readonly int[] _completions = new int[records];
    private long _results;
    private long _faults;

    public long Results => Volatile.Read(ref _results);

    public long Faults => Volatile.Read(ref _faults);

    public int CompletionsOf(int id) => Volatile.Read(ref _completions[id]);

    /// <summary>Counts a completion of record <paramref name="id"/> that its caller checked itself.</summary>
    public void Count(int id) => Interlocked.Increment(ref _completions[id]);

    /// <summary>
    /// Awaits record <paramref name="id"/>: its own result (<paramref name="expected"/>) or its batch's
    /// <see cref="BatchFault"/>; anything else is a violation. Counts the completion either way.
    /// </summary>
    public async Task Await(ValueTask<long> task, int id, long expected, Violations violations, string what = "record")
    {
        try
        {
            long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
            Interlocked.Increment(ref _results);
            if (value != expected)
            {
                violations.Add($"record {id} got {value}, not its result");
            }
        }
        catch (BatchFault)
        {
            Interlocked.Increment(ref _faults);
        }
        catch (Exception e)
        {
            violations.Add($"{what} {id} failed with {e.GetType().Name}: {e.Message}");
        }

        Interlocked.Increment(ref _completions[id]);
    }
}

/// <summary>Violations found by a run, reported together at its end.</summary>
internal sealed class Violations
{
    private readonly ConcurrentQueue<string> _found = new();

    public int Count => _found.Count;

    public void Add(string what) => _found.Enqueue(what);

    public void Expect(string what, long expected, long actual)
    {
        if (expected != actual)
        {
            Add($"{what}: expected {expected:N0}, got {actual:N0}");
        }
    }

    /// <summary>Fails with the first violations and the last few (the run-wide checks come last), and their number.</summary>
    public void AssertNone()
    {
        var all = _found.ToArray();
        var shown = all.Length <= 30 ? all : [.. all.Take(24), $"... {all.Length - 30:N0} more ...", .. all.TakeLast(6)];
        Assert.True(all.Length == 0, $"{all.Length:N0} violations:\n" + string.Join("\n", shown));
    }
}

/// <summary>Counts the batches the observer is told about, by dispatch reason.</summary>
internal sealed class ReasonCounter : IBatchObserver
{
    private readonly long[] _byReason = new long[Enum.GetValues<DispatchReason>().Length];
    private long _records;

    public long Total => _byReason.Sum();

    public long Records => Volatile.Read(ref _records);

    public long this[DispatchReason reason] => Volatile.Read(ref _byReason[(int)reason]);

    public void OnBatchCompleted(in BatchReport report)
    {
        Interlocked.Increment(ref _byReason[(int)report.Reason]);
        Interlocked.Add(ref _records, report.Records);
    }
}
