using System.Diagnostics;
namespace LowLatencyBatcher;

/// <summary>
/// The life of one run, shared by its packing thread and workers: whether a stop is being aborted and with which
/// error, the token the process function gets, who is still running, and when the run is over.
/// </summary>
/// <remarks>
/// The run is over (<see cref="Finished"/>) when the packing thread and every worker have exited, or, once an abort
/// began, as soon as the packing thread has exited: workers still inside a process call that ignores its token are
/// not waited for (their records were failed by the abort, and their late results are dropped).
/// <see cref="WorkersExited"/> still waits for them, so a restart can keep the <c>Workers</c> bound.
/// </remarks>
internal sealed class RunLifetime
{
    private readonly CancellationTokenSource _processCancellation = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _workersExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _abortError; // set once, by the first abort or packing-thread failure, before _aborting
    private int _aborting;
    private int _packingThreadExited;
    private int _participants; // the packing thread and the workers that have not exited
    private int _workersLeft;

    /// <summary>Creates the life of a run with <paramref name="workers"/> workers and one packing thread.</summary>
    public RunLifetime(int workers)
    {
        _participants = workers + 1;
        _workersLeft = workers;
    }

    /// <summary>The token passed to the process function: cancelled when a stop is aborted.</summary>
    public CancellationToken ProcessCancellation => _processCancellation.Token;

    /// <summary>True once an abort (or a failure of the packing thread) began.</summary>
    public bool IsAborting => Volatile.Read(ref _aborting) != 0;

    /// <summary>The exception given to records an abort completes: the first abort's (or packing-thread failure's).</summary>
    public Exception AbortError => Volatile.Read(ref _abortError) ?? new OperationCanceledException();

    /// <summary>Completes when the run is over: drained, or aborted.</summary>
    public Task Finished => _finished.Task;

    /// <summary>Completes once every worker has exited (its last process call has returned).</summary>
    public Task WorkersExited => _workersExited.Task;

    /// <summary>Whether the packing thread has exited (diagnostics).</summary>
    public bool PackingThreadExited => Volatile.Read(ref _packingThreadExited) != 0;

    /// <summary>Workers that have not exited yet.</summary>
    public int WorkersRunning => Volatile.Read(ref _workersLeft);

    /// <summary>
    /// Begins an abort with <paramref name="error"/> (kept only if no earlier abort or failure set its own) and
    /// cancels the process function's token. True for the first abort only: that caller fails what it can reach.
    /// </summary>
    public bool TryBeginAbort(Exception error)
    {
        SetAbortError(error);
        if (Interlocked.Exchange(ref _aborting, 1) != 0) // full fence after the error was set; only the first abort goes on
        {
            return false;
        }

        CancelProcessCalls();
        return true;
    }

    /// <summary>The packing thread failed with <paramref name="defect"/>: the run aborts, every record failing with it.</summary>
    public void FailFromPackingThread(Exception defect)
    {
        SetAbortError(new InvalidOperationException("The batcher's packing thread failed.", defect));
        Interlocked.Exchange(ref _aborting, 1); // full fence: the error is visible before the flag
        CancelProcessCalls();
    }

    /// <summary>After an abort: ends the run at once if the packing thread had already exited (nothing more comes from it).</summary>
    public void FinishIfPackingThreadExited()
    {
        if (Volatile.Read(ref _packingThreadExited) != 0) // read after TryBeginAbort's fence; the thread's exit is a full fence before it reads the flag
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>The packing thread exited.</summary>
    public void OnPackingThreadExited()
    {
        Interlocked.Exchange(ref _packingThreadExited, 1); // full fence before the abort flag is read
        if (IsAborting)
        {
            _finished.TrySetResult();
        }

        OnParticipantExited();
    }

    /// <summary>A worker exited.</summary>
    public void OnWorkerExited()
    {
        int left = Interlocked.Decrement(ref _workersLeft); // atomic: exactly one worker sees the last exit
        Debug.Assert(left >= 0, "each worker exits once");
        if (left == 0)
        {
            _workersExited.TrySetResult();
        }

        OnParticipantExited();
    }

    /// <summary>The last one out completes <see cref="Finished"/>.</summary>
    private void OnParticipantExited()
    {
        if (Interlocked.Decrement(ref _participants) == 0) // atomic: exactly one participant sees the last exit
        {
            _finished.TrySetResult();
        }
    }

    private void CancelProcessCalls()
    {
        try
        {
            _processCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A callback the process function registered on its token threw. The abort must go on regardless;
            // that callback's own caller (the process function) is the one to observe it.
        }
    }

    /// <summary>Keeps <paramref name="error"/> unless an earlier abort or failure set its own: the first one wins.</summary>
    private void SetAbortError(Exception error) => Interlocked.CompareExchange(ref _abortError, error, null);
}
