namespace LowLatencyBatcher.Torch.Runner;

/// <summary>
/// Runs every step of a teardown even when some fail (after a sticky device error every device call fails),
/// and remembers the first failure so that it can be reported once everything has been released.
/// </summary>
internal sealed class CleanupSequence
{
    private Exception? _first;

    /// <summary>The first step that failed, or <see langword="null"/>.</summary>
    public Exception? FirstError => _first;

    /// <summary>Runs <paramref name="step"/>; a failure is kept (the first one) and does not stop later steps.</summary>
    public void Run(Action step)
    {
        try
        {
            step();
        }
        catch (Exception exception)
        {
            _first ??= exception;
        }
    }

    /// <summary>Disposes <paramref name="disposable"/> as one step.</summary>
    public void Dispose(IDisposable? disposable)
    {
        if (disposable is not null)
        {
            Run(disposable.Dispose);
        }
    }

    /// <summary>Throws the first failure, with its original stack trace, if a step failed.</summary>
    public void ThrowIfFailed()
    {
        if (_first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_first);
        }
    }
}
