namespace LowLatencyBatcher.Torch.Streams;

/// <summary>Restores the previous current stream of the thread when disposed.</summary>
public readonly struct StreamScope : IDisposable
{
    private readonly Action<nint>? _restore;
    private readonly nint _state;

    /// <summary>Creates a scope that calls <paramref name="restore"/> with <paramref name="state"/> on dispose.</summary>
    /// <param name="restore">What undoes the selection; <see langword="null"/> for a scope that does nothing.</param>
    /// <param name="state">A handle passed to <paramref name="restore"/>.</param>
    public StreamScope(Action<nint>? restore, nint state)
    {
        _restore = restore;
        _state = state;
    }

    /// <inheritdoc />
    public void Dispose() => _restore?.Invoke(_state);
}
