using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// The dedicated packing thread: drains the intake ring into the open batch and hands sealed batches to the
/// prefetch ring, doing what <see cref="PackingRules"/> answers. It never runs callers' code, so it cannot be
/// stalled by it. When there is nothing to do it spins briefly, then parks until a submit, a worker, the open
/// batch's deadline or a stop wakes it.
/// </summary>
internal sealed class PackingLoop<TRecord, TResult>
{
    private const int SpinsBeforePark = 20;
    private const int PublishEvery = 64;

    // With a custom clock, time moves when its owner says so: a timer on that clock wakes the thread at the
    // deadline, and a short real-time poll covers a clock moved while the timer was being armed.
    private const int CustomClockPollMilliseconds = 20;

    private readonly Pipeline<TRecord, TResult> _pipeline;
    private readonly IntakeRing<IntakeItem<TRecord, TResult>> _intake;
    private readonly Handoff.BatchRing<Batch<TRecord, TResult>> _prefetch;
    private readonly TimeProvider _time;
    private readonly ITimer? _deadlineTimer;

    // Owned by the packing thread.
    private Batch<TRecord, TResult>? _open;
    private DispatchReason _openFull;
    private IntakeItem<TRecord, TResult> _carry; // a record that did not fit the full open batch
    private bool _hasCarry;

    /// <summary>Creates the loop of <paramref name="pipeline"/>; <see cref="Start"/> runs it.</summary>
    public PackingLoop(Pipeline<TRecord, TResult> pipeline)
    {
        _pipeline = pipeline;
        _intake = pipeline.Intake;
        _prefetch = pipeline.Prefetch;
        _time = pipeline.Settings.TimeProvider;
        if (_time != TimeProvider.System)
        {
            _deadlineTimer = _time.CreateTimer(
                static state => ((Parker)state!).Unpark(), Parker, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Parks the packing thread; submits, workers and stops wake it through <see cref="Parker.Unpark"/>.</summary>
    public Parker Parker { get; } = new();

    /// <summary>The CPU the thread is pinned to, or -1.</summary>
    public int PinnedCpu { get; private set; } = -1;

    /// <summary>Starts the thread.</summary>
    public void Start() =>
        new Thread(Run) { IsBackground = true, Name = "LowLatencyBatcher packing" }.Start();

    private void Run()
    {
        if (_pipeline.Settings.PinPackingThread)
        {
            PinnedCpu = ThreadAffinity.TryPinCurrentThread();
        }

        try
        {
            Loop();
        }
        catch (Exception e)
        {
            // Only a defect of ours lands here (this thread runs no caller code): fail what was accepted, loudly.
            _pipeline.FailFromPackingThread(e);
            AbortDrain();
        }
        finally
        {
            _deadlineTimer?.Dispose();
            _pipeline.OnPackingThreadExited();
        }
    }

    private void Loop()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            if (_pipeline.IsAborting)
            {
                AbortDrain();
                return;
            }

            bool progressed = DispatchFullBatch();
            progressed |= Drain();
            progressed |= DispatchEarly();
            if (IsFinished)
            {
                _prefetch.Complete();
                _pipeline.WakeAllWorkers();
                return;
            }

            if (progressed)
            {
                spinner.Reset();
            }
            else if (spinner.Count < SpinsBeforePark)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            else
            {
                spinner.Reset();
                Park();
            }
        }
    }

    /// <summary>A stop began, everything accepted was drained and the last batch went out.</summary>
    private bool IsFinished => _open is null && !_hasCarry && _intake.IsDrainedAfterClose;

    private bool DispatchFullBatch() => _open is not null && _openFull != DispatchReason.None && TryDispatch(_openFull);

    private bool DispatchEarly()
    {
        if (_open is null || _openFull != DispatchReason.None)
        {
            return false;
        }

        DispatchReason reason = EarlyReason(_time.GetTimestamp());
        return reason != DispatchReason.None && TryDispatch(reason);
    }

    private DispatchReason EarlyReason(long now) => _open!.Rules.EarlyReason(
        _open!.EntryCount,
        _open.FirstArrival,
        now,
        stopping: _intake.IsDrainedAfterClose && !_hasCarry,
        workerIdle: _pipeline.AnyWorkerIdle(),
        prefetchEmpty: _prefetch.IsEmpty);

    private bool TryDispatch(DispatchReason reason)
    {
        var batch = _open!;
        batch.Reason = reason;
        if (!_prefetch.TryEnqueue(batch))
        {
            return false; // prefetch full: the batch keeps absorbing records until it is full itself
        }

        _open = null;
        _openFull = DispatchReason.None;
        _pipeline.WakeOneWorker();
        return true;
    }

    /// <summary>Moves records from the intake into the open batch until it is full or the intake is empty.</summary>
    private bool Drain()
    {
        bool progressed = false;
        int sincePublish = 0;
        while (_openFull == DispatchReason.None)
        {
            if (!_hasCarry)
            {
                if (!_intake.TryDequeue(out _carry))
                {
                    break;
                }

                _hasCarry = true;
                if (++sincePublish == PublishEvery)
                {
                    PublishRoom();
                    sincePublish = 0;
                }
            }

            progressed = true;
            if (!_carry.Completion.IsQueued(_carry.Generation))
            {
                _carry = default; // cancelled while queued: dropped before it takes any room
                _hasCarry = false;
                continue;
            }

            if (_open is not null && !_open.Fits(_carry.Cost))
            {
                _openFull = DispatchReason.Budget; // the carried record starts the next batch
                break;
            }

            if (_open is null)
            {
                _open = _pipeline.RentBatch();
                _open.Open(_pipeline.CurrentRules, _carry.Arrival);
            }

            _open.Add(_carry);
            _carry = default;
            _hasCarry = false;
            _openFull = _open.FullReason;
        }

        PublishRoom();
        return progressed;
    }

    private void PublishRoom()
    {
        if (_intake.PublishHead())
        {
            _pipeline.Room.NotifyIfWaiting();
        }
    }

    private void Park()
    {
        Parker.PrepareToPark();
        long now = _time.GetTimestamp();
        if (HasWork(now))
        {
            Parker.CancelPark();
            return;
        }

        Parker.Park(WaitMilliseconds(now));
    }

    /// <summary>The re-check after flagging as parked: anything a waker may have published before it looked.</summary>
    private bool HasWork(long now)
    {
        if (_pipeline.IsAborting || (_openFull == DispatchReason.None && _intake.HasPublishedItem) || IsFinished)
        {
            return true;
        }

        return _open is not null
            && _prefetch.Count < _prefetch.Limit
            && (_openFull != DispatchReason.None || EarlyReason(now) != DispatchReason.None);
    }

    private int WaitMilliseconds(long now)
    {
        if (_open is null || _openFull != DispatchReason.None)
        {
            return Timeout.Infinite; // a submit or a worker will wake us
        }

        long deadline = _open.Rules.Deadline(_open.FirstArrival);
        long remaining = deadline - now;
        if (remaining <= 0)
        {
            return Timeout.Infinite; // timed out but the prefetch ring is full: a worker will wake us
        }

        if (_deadlineTimer is null)
        {
            return (int)Math.Min(int.MaxValue, (remaining * 1000 + _time.TimestampFrequency - 1) / _time.TimestampFrequency);
        }

        _deadlineTimer.Change(_time.GetElapsedTime(now, deadline), Timeout.InfiniteTimeSpan);
        return CustomClockPollMilliseconds;
    }

    /// <summary>An aborted stop: fails every record the thread can reach, then lets the workers finish.</summary>
    private void AbortDrain()
    {
        var error = _pipeline.AbortError;
        int completed = 0;
        if (_open is not null)
        {
            completed += _open.FailAll(error);
            _pipeline.ReturnBatch(_open);
            _open = null;
        }

        if (_hasCarry && _carry.Completion.TrySetException(_carry.Generation, error))
        {
            completed++;
        }

        _carry = default;
        _hasCarry = false;
        var spinner = default(SpinWait);
        while (!_intake.IsDrainedAfterClose)
        {
            if (_intake.TryDequeue(out var item))
            {
                if (item.Completion.TrySetException(item.Generation, error))
                {
                    completed++;
                }
            }
            else
            {
                spinner.SpinOnce(sleep1Threshold: -1); // a producer between its claim and its publish
            }
        }

        PublishRoom();
        _pipeline.Counters.AddCancelled(completed);
        _pipeline.FailPrefetched();
        _prefetch.Complete();
        _pipeline.WakeAllWorkers();
    }
}
