using System.Collections.Concurrent;
using System.Diagnostics;
using LowLatencyBatcher.Handoff;

namespace LowLatencyBatcher.Reliability.Tests.Linearizability;

/// <summary>
/// The prefetch ring under test, with the outcome of every operation. Producer operations take
/// <see cref="_producer"/> (the ring has one producer, the packing thread); consumers call it from any thread at once.
/// </summary>
/// <remarks>
/// <see cref="BatchRing{T}.TryEnqueue"/> may refuse while a consumer that already claimed the previous lap's item in
/// that slot has not freed it yet, although the ring is not full (the packing thread retries when the worker wakes
/// it). The producer operation here retries such a refusal, and reports "full" only when a read of the ring's count
/// after the refusal still says it is full: the point at which that outcome is linearized.
/// </remarks>
internal sealed class BatchRingActual(int limit)
{
    private static long s_operations;

    private static readonly TimeSpan FreeBound = TimeSpan.FromSeconds(10);

    private readonly Lock _producer = new();
    private readonly List<string> _producerLog = [];
    private readonly ConcurrentQueue<string> _consumerLog = new();
    private BatchRingFinal? _final;

    public BatchRing<string> Ring { get; } = new(limit);

    /// <summary>Refusals that were retried because the ring was not full (a consumer still freeing its slot).</summary>
    public int TransientRefusals { get; private set; }

    public void Enqueue(int value)
    {
        Interlocked.Increment(ref s_operations);
        lock (_producer)
        {
            _producerLog.Add($"{value}:{(EnqueueOne(value.ToString()) ? "ok" : "full")}");
        }
    }

    public void Dequeue()
    {
        Interlocked.Increment(ref s_operations);
        _consumerLog.Enqueue(Ring.TryDequeue(out var item) ? item : "empty");
    }

    /// <summary>What the run left behind; taken once, after every operation ended.</summary>
    public BatchRingFinal Final
    {
        get
        {
            lock (_producer)
            {
                if (_final is null)
                {
                    int count = Ring.Count;
                    var remaining = new List<string>();
                    while (Ring.TryDequeue(out var item))
                    {
                        remaining.Add(item);
                    }

                    _final = new BatchRingFinal(
                        [.. _producerLog], [.. _consumerLog.Order(StringComparer.Ordinal)], count, remaining, Ring.IsEmpty);
                }

                return _final;
            }
        }
    }

    /// <summary>Operations run on rings of this kind by this process (sequential and parallel parts).</summary>
    public static long OperationsRun => Interlocked.Read(ref s_operations);

    public override string ToString() => $"BatchRing(limit {Ring.Limit}) {Final}";

    private bool EnqueueOne(string item)
    {
        var started = Stopwatch.StartNew();
        var spinner = default(SpinWait);
        while (!Ring.TryEnqueue(item))
        {
            if (Ring.Count >= Ring.Limit)
            {
                return false;
            }

            if (started.Elapsed > FreeBound)
            {
                throw new TimeoutException($"the ring holds {Ring.Count} of {Ring.Limit} items but refuses another");
            }

            TransientRefusals++;
            spinner.SpinOnce(); // a consumer between its claim and its free
        }

        return true;
    }
}

/// <summary>The sequential specification of the prefetch ring: a bounded FIFO queue.</summary>
internal sealed class BatchRingModel(int limit)
{
    private readonly Queue<string> _items = new();
    private readonly List<string> _producerLog = [];
    private readonly List<string> _consumerLog = [];

    public void Enqueue(int value)
    {
        bool ok = _items.Count < limit;
        if (ok)
        {
            _items.Enqueue(value.ToString());
        }

        _producerLog.Add($"{value}:{(ok ? "ok" : "full")}");
    }

    public void Dequeue() => _consumerLog.Add(_items.TryDequeue(out var item) ? item : "empty");

    public BatchRingFinal Final =>
        new([.. _producerLog], [.. _consumerLog.Order(StringComparer.Ordinal)], _items.Count, [.. _items], true);

    public override string ToString() => $"model(limit {limit}) {Final}";
}

/// <summary>Everything observable about a run of the prefetch ring.</summary>
internal sealed record BatchRingFinal(
    string[] ProducerLog, string[] ConsumerOutcomes, int Count, List<string> Remaining, bool EmptyAfterDrain)
{
    public bool SameAs(BatchRingFinal other) =>
        ProducerLog.SequenceEqual(other.ProducerLog)
        && ConsumerOutcomes.SequenceEqual(other.ConsumerOutcomes)
        && Count == other.Count
        && Remaining.SequenceEqual(other.Remaining)
        && EmptyAfterDrain == other.EmptyAfterDrain;

    public override string ToString() =>
        $"producer [{string.Join(", ", ProducerLog)}] consumers [{string.Join(", ", ConsumerOutcomes)}] " +
        $"count {Count} remaining [{string.Join(", ", Remaining)}] empty after drain {EmptyAfterDrain}";
}
