using System.Diagnostics;
using System.Threading.Tasks.Sources;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The pooled completion behind one submitted record's <see cref="ValueTask{TResult}"/>.
/// </summary>
/// <remarks>
/// <para>Life cycle: rented by a submit, armed (<see cref="Arm"/>), completed exactly once, then recycled by the
/// caller's <see cref="GetResult"/>, which is the one place that resets it.</para>
/// <para>Who completes: <c>_state</c> packs a generation (bumped at every recycle) with a phase (queued, running,
/// done). Every transition is a CAS that names the generation it expects, so the packer, a worker, the caller's
/// cancellation and an aborted stop can race: one wins, and a stale reference held from an earlier use of this
/// object (by a batch still in a ring, say) can never complete a later record. A record that only an aborted stop can
/// complete while queued stays queued until its outcome: its worker takes it with <see cref="IsQueued"/>, not
/// <see cref="TryStartRunning"/>.</para>
/// <para>Continuations run asynchronously (queued to the thread pool), except when a resumer releases a claimed use
/// with <c>inline: true</c> (a worker resuming its batch's callers on its own thread, watched by the packing thread,
/// or a pool work item: see <see cref="HeldOutcomes{TResult}"/>). The packing thread never runs callers'
/// code.</para>
/// </remarks>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class RecordCompletion<TResult> : IValueTaskSource<TResult>
{
    private const int Queued = 0;
    private const int Running = 1;
    private const int Done = 2;
    private const int PhaseBits = 2;
    private const int PhaseMask = (1 << PhaseBits) - 1;

    private static readonly Action<object?, CancellationToken> s_onCallerCancelled = static (state, token) =>
    {
        var completion = (RecordCompletion<TResult>)state!;
        completion.TryCancel(completion.Generation, new OperationCanceledException(token));
    };

    private readonly CompletionPool<TResult> _pool;
    private ManualResetValueTaskSourceCore<TResult> _core;
    private CancellationTokenRegistration _registration;
    private ITimer? _deadline;
    private int _state;

    // The outcome a claimer holds between its claim and its release (see TryClaim).
    private TResult? _heldResult;
    private Exception? _heldError;

    /// <summary>Creates a completion that recycles itself into <paramref name="pool"/>.</summary>
    public RecordCompletion(CompletionPool<TResult> pool)
    {
        _pool = pool;
        _core.RunContinuationsAsynchronously = true;
    }

    /// <summary>The current use's generation: stored with every reference handed to the packer and the workers.</summary>
    public int Generation => Volatile.Read(ref _state) >> PhaseBits;

    /// <summary>The caller's view of this completion.</summary>
    public ValueTask<TResult> Task => new(this, _core.Version);

    /// <summary>
    /// Ties the caller's token to this use (the submitter, after the record was accepted). A token that is already
    /// cancelled completes the record at once.
    /// </summary>
    public void Arm(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(s_onCallerCancelled, this);
            // The record may have completed already (a worker was quick): its completer found no registration to take
            // off. Full fence between the store above and the read below; the completer's CAS to done is one before it
            // reads the registration (Dekker): one of the two takes it off.
            Interlocked.MemoryBarrier();
            if ((Volatile.Read(ref _state) & PhaseMask) == Done)
            {
                ReleaseToken();
            }
        }
    }

    /// <summary>
    /// Gives this use a deadline (the submitter, after the record was accepted): if the record is still queued when
    /// <paramref name="timeout"/> has passed since <paramref name="submitted"/> on <paramref name="time"/>, it completes
    /// with <see cref="TimeoutException"/> and never reaches the process function. Allocates a timer: only submits
    /// with a timeout pay for it.
    /// </summary>
    public void ArmDeadline(TimeSpan timeout, long submitted, TimeProvider time)
    {
        var state = new DeadlineState(this, Generation, timeout, submitted, time);
        // Created unarmed and armed once assigned, so a callback always finds its timer to re-arm if it fires early.
        var timer = time.CreateTimer(
            static state => ((DeadlineState)state!).Expire(), state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _deadline = state.Timer = timer;
        var due = time.GetElapsedTime(time.GetTimestamp(), state.Deadline);
        timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// True while the record of <paramref name="generation"/> waits to be handed to a worker: a racy look. The packing
    /// round's drop check is re-checked by the worker's <see cref="TryStartRunning"/>; a worker taking a record that
    /// only an aborted stop can complete uses it instead of that CAS (the abort may complete the record while it runs
    /// either way).
    /// </summary>
    public bool IsQueued(int generation) => Volatile.Read(ref _state) == Pack(generation, Queued); // acquire: pairs with Recycle's release

    /// <summary>
    /// Hands the record to a worker: from now on a cancellation drops its result instead of keeping it out of the
    /// process function. False when it already completed (it was cancelled) or belongs to a later use.
    /// </summary>
    public bool TryStartRunning(int generation) =>
        Interlocked.CompareExchange(ref _state, Pack(generation, Running), Pack(generation, Queued)) // CAS: only a queued use of this generation starts running
        == Pack(generation, Queued);

    /// <summary>
    /// Claims the right to complete this use without completing it yet: the claimer then gives the outcome with
    /// <see cref="Hold(TResult)"/> or <see cref="Hold(Exception)"/> and hands it to the caller with
    /// <see cref="Release"/>. Between the two the record counts as done (cancellation, deadline and abort leave it
    /// alone) while the caller still waits, so a worker can count a whole batch before any caller sees a result, and
    /// resume the callers in one go. False when someone else completed this use first.
    /// </summary>
    public bool TryClaim(int generation) => TryFinish(generation);

    /// <summary>Gives a claimed use its result (the claimer only, before <see cref="Release"/>).</summary>
    public void Hold(TResult result) => _heldResult = result;

    /// <summary>Gives a claimed use its exception (the claimer only, before <see cref="Release"/>).</summary>
    public void Hold(Exception exception) => _heldError = exception;

    /// <summary>
    /// Completes a claimed use with the outcome held (the claimer only). With <paramref name="inline"/> the caller's
    /// continuation, if one waits, runs on this thread before the call returns (a resumer that owns its thread);
    /// otherwise it is queued to the thread pool.
    /// </summary>
    public void Release(bool inline)
    {
        Debug.Assert((Volatile.Read(ref _state) & PhaseMask) == Done, "only a claimed (done) use is released");
        ReleaseToken();
        _core.RunContinuationsAsynchronously = !inline;
        var error = _heldError;
        var result = _heldResult;
        _heldError = null;
        _heldResult = default;
        if (error is null)
        {
            _core.SetResult(result!);
        }
        else
        {
            _core.SetException(error);
        }
    }

    /// <summary>
    /// Completes with <paramref name="exception"/> as cancelled (by its caller, or by an aborted stop), counted before
    /// the caller can see it; false when someone else completed this use first.
    /// </summary>
    public bool TryCancel(int generation, Exception exception)
    {
        if (!TryFinish(generation))
        {
            return false;
        }

        _pool.Counters.AddCancelled(1);
        ReleaseToken();
        _core.RunContinuationsAsynchronously = true;
        _core.SetException(exception);
        return true;
    }

    /// <inheritdoc />
    public TResult GetResult(short token)
    {
        // Recycle only a use that really finished: GetResult on a pending task (a caller's bug) throws and must
        // not put an in-flight completion back in the pool.
        bool finished = _core.GetStatus(token) != ValueTaskSourceStatus.Pending;
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            if (finished)
            {
                Recycle();
            }
        }
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Returns an unused completion (armed or not, never handed out) to the pool.</summary>
    public void Discard() => Recycle();

    /// <summary>What a deadline timer needs: the generation it was armed for, so it can only ever expire that use.</summary>
    private sealed class DeadlineState(
        RecordCompletion<TResult> completion, int generation, TimeSpan timeout, long submitted, TimeProvider time)
    {
        private readonly long _deadline = submitted + Timestamps.ToTicks(timeout, time.TimestampFrequency);

        /// <summary>The timestamp at which the record expires.</summary>
        public long Deadline => _deadline;

        public ITimer? Timer { get; set; }

        public void Expire()
        {
            int queued = Pack(generation, Queued);
            if (Volatile.Read(ref completion._state) != queued) // a cheap look before the CAS below
            {
                return; // a worker has it, or it completed (and its timer is being disposed)
            }

            // Timers may fire a little early (coarse kernel clocks): a record never times out before its deadline.
            long now = time.GetTimestamp();
            if (now < _deadline && Timer is { } timer)
            {
                try
                {
                    timer.Change(time.GetElapsedTime(now, _deadline), Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                    // The record completed meanwhile and its use was recycled: nothing to expire.
                }

                return;
            }

            // Only a record still queued expires: once a worker has it, the deadline no longer applies.
            if (Interlocked.CompareExchange(ref completion._state, Pack(generation, Done), queued) == queued)
            {
                completion._pool.Counters.AddTimedOut(1); // counted before the caller can see it
                completion.ReleaseToken();
                completion._core.RunContinuationsAsynchronously = true;
                completion._core.SetException(new TimeoutException(
                    $"The record was not handed to a worker within its timeout of {timeout.TotalMilliseconds:0.###} ms."));
            }
        }
    }

    /// <summary>
    /// Takes this use's callback off the caller's token as soon as the use is done (whoever completes it), so a result
    /// that is never awaited leaves nothing on a long-lived token. Does not wait for a callback running right now
    /// (it finds the use done and does nothing); <see cref="Recycle"/> waits for it before the object is reused.
    /// </summary>
    private void ReleaseToken()
    {
        if (_registration.Token.CanBeCanceled)
        {
            _registration.Unregister();
        }
    }

    private static int Pack(int generation, int phase) => (generation << PhaseBits) | phase;

    private bool TryFinish(int generation)
    {
        int state = Volatile.Read(ref _state); // a first look; the CAS below decides
        while (true)
        {
            if (state >> PhaseBits != generation || (state & PhaseMask) == Done)
            {
                return false;
            }

            int seen = Interlocked.CompareExchange(ref _state, Pack(generation, Done), state); // CAS: exactly one completer wins this generation
            if (seen == state)
            {
                return true;
            }

            state = seen;
        }
    }

    private void Recycle()
    {
        // Dispose waits for a cancellation callback that is running right now, so no callback of this use can
        // touch the object after it is reused.
        _registration.Dispose();
        _registration = default;
        _deadline?.Dispose(); // a callback already running names its own generation, so it cannot touch the next use
        _deadline = null;
        _core.Reset(); // also clears the result and the exception, so the pool holds no references to them
        int nextGeneration = (Generation + 1) & (int.MaxValue >> PhaseBits);
        Volatile.Write(ref _state, Pack(nextGeneration, Queued)); // release: the reset above is visible before the object is rented again
        _pool.Return(this);
    }
}
