using System.Threading.Tasks.Sources;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// A reusable, allocation-free awaitable that wakes one parked worker. Exactly one party sets it per wait
/// (whoever wins the worker's state from parked to busy with a CAS, see <c>Worker.TryWake</c>), and the worker resets
/// it before flagging itself again.
/// </summary>
internal sealed class WorkerSignal : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>Arms the signal for the next wait (the worker, before it flags itself as parked).</summary>
    public void Reset() => _core.Reset();

    /// <summary>Completes when <see cref="Set"/> is called.</summary>
    public ValueTask WaitAsync() => new(this, _core.Version);

    /// <summary>Wakes the worker.</summary>
    public void Set() => _core.SetResult(true);

    /// <inheritdoc />
    public void GetResult(short token) => _core.GetResult(token);

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
