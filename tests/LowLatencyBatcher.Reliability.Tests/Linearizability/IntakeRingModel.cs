using System.Collections.Concurrent;
using System.Diagnostics;
using LowLatencyBatcher.Intake;

namespace LowLatencyBatcher.Reliability.Tests.Linearizability;

/// <summary>
/// The intake ring under test, with the outcome of every operation run on it. Producers call it from any thread;
/// consumer operations take <see cref="_consumer"/>, which gives them what the single consumer thread has in
/// production: one at a time, each one seeing everything the previous one did.
/// </summary>
/// <remarks>
/// The ring's <see cref="IntakeRing{T}.TryDequeue"/> may answer "nothing" while a producer sits between its claim and
/// its publish (the packing thread simply comes back later). The consumer operation here does what the packing thread
/// does when it must have the item: when the tail says a position was claimed, it waits for its publication. So a
/// dequeue is linearized at its successful take, and "empty" at a read of the tail equal to the consumer's head.
/// </remarks>
internal sealed class IntakeRingActual(int limit)
{
    private static long s_operations;

    private static readonly TimeSpan PublishBound = TimeSpan.FromSeconds(10);

    private readonly Lock _consumer = new();
    private readonly List<string> _consumerLog = [];
    private readonly ConcurrentQueue<string> _producerLog = new();
    private long _taken;
    private IntakeRingFinal? _final;

    public IntakeRing<string> Ring { get; } = new(limit);

    public void Enqueue(int value)
    {
        Interlocked.Increment(ref s_operations);
        _producerLog.Enqueue($"{value}:{Ring.TryEnqueue(value.ToString())}");
    }

    public void Close()
    {
        Interlocked.Increment(ref s_operations);
        Ring.Close();
    }

    public void Dequeue()
    {
        Interlocked.Increment(ref s_operations);
        lock (_consumer)
        {
            _consumerLog.Add(DequeueOne() ?? "empty");
        }
    }

    public void PublishHead()
    {
        Interlocked.Increment(ref s_operations);
        lock (_consumer)
        {
            _consumerLog.Add(Ring.PublishHead() ? "head-moved" : "head-same");
        }
    }

    public void CheckDrained()
    {
        Interlocked.Increment(ref s_operations);
        lock (_consumer)
        {
            _consumerLog.Add(Ring.IsDrainedAfterClose ? "drained" : "not-drained");
        }
    }

    /// <summary>What the run left behind; taken once, after every operation ended (the comparisons run in parallel).</summary>
    public IntakeRingFinal Final
    {
        get
        {
            lock (_consumer)
            {
                if (_final is null)
                {
                    long waiting = Ring.WaitingCount;
                    long accepted = Ring.AcceptedCount;
                    bool closed = Ring.IsClosed;
                    var remaining = new List<string>();
                    while (DequeueOne() is { } item)
                    {
                        remaining.Add(item);
                    }

                    _final = new IntakeRingFinal(
                        [.. _consumerLog], [.. _producerLog.Order(StringComparer.Ordinal)], waiting, accepted, closed, remaining);
                }

                return _final;
            }
        }
    }

    /// <summary>Operations run on rings of this kind by this process (sequential and parallel parts).</summary>
    public static long OperationsRun => Interlocked.Read(ref s_operations);

    public override string ToString() => $"IntakeRing(limit {Ring.Limit}) {Final}";

    private string? DequeueOne()
    {
        var started = Stopwatch.StartNew();
        var spinner = default(SpinWait);
        while (true)
        {
            if (Ring.TryDequeue(out var item))
            {
                _taken++;
                return item;
            }

            if (Ring.AcceptedCount == _taken)
            {
                return null;
            }

            if (started.Elapsed > PublishBound)
            {
                throw new TimeoutException(
                    $"position {_taken} was claimed (tail {Ring.AcceptedCount}) but never published");
            }

            spinner.SpinOnce(); // a producer between its claim and its publish
        }
    }
}

/// <summary>The sequential specification of the intake ring.</summary>
internal sealed class IntakeRingModel(int limit)
{
    private readonly Queue<string> _items = new();
    private readonly List<string> _consumerLog = [];
    private readonly List<string> _producerLog = [];
    private long _tail;
    private long _head;
    private long _publishedHead;
    private bool _closed;

    public void Enqueue(int value)
    {
        EnqueueOutcome outcome = _closed ? EnqueueOutcome.Closed
            : _tail - _publishedHead >= limit ? EnqueueOutcome.Full
            : EnqueueOutcome.Enqueued;
        if (outcome == EnqueueOutcome.Enqueued)
        {
            _items.Enqueue(value.ToString());
            _tail++;
        }

        _producerLog.Add($"{value}:{outcome}");
    }

    public void Close() => _closed = true;

    public void Dequeue()
    {
        if (_items.TryDequeue(out var item))
        {
            _head++;
            _consumerLog.Add(item);
        }
        else
        {
            _consumerLog.Add("empty");
        }
    }

    public void PublishHead()
    {
        _consumerLog.Add(_publishedHead != _head ? "head-moved" : "head-same");
        _publishedHead = _head;
    }

    public void CheckDrained() => _consumerLog.Add(_closed && _head == _tail ? "drained" : "not-drained");

    public IntakeRingFinal Final => new(
        [.. _consumerLog], [.. _producerLog.Order(StringComparer.Ordinal)], _tail - _publishedHead, _tail, _closed, [.. _items]);

    public override string ToString() => $"model(limit {limit}) {Final}";
}

/// <summary>Everything observable about a run: each side's outcomes, the ring's counters and what is left in it.</summary>
internal sealed record IntakeRingFinal(
    string[] ConsumerLog, string[] ProducerOutcomes, long Waiting, long Accepted, bool Closed, List<string> Remaining)
{
    public bool SameAs(IntakeRingFinal other) =>
        ConsumerLog.SequenceEqual(other.ConsumerLog)
        && ProducerOutcomes.SequenceEqual(other.ProducerOutcomes)
        && Waiting == other.Waiting
        && Accepted == other.Accepted
        && Closed == other.Closed
        && Remaining.SequenceEqual(other.Remaining);

    public override string ToString() =>
        $"consumer [{string.Join(", ", ConsumerLog)}] producers [{string.Join(", ", ProducerOutcomes)}] " +
        $"waiting {Waiting} accepted {Accepted} closed {Closed} remaining [{string.Join(", ", Remaining)}]";
}
