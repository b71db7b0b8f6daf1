namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// Makes a device current for the calling thread and puts the previous one back on dispose, so that creating
/// streams or events for device N does not leave the caller's thread on device N.
/// </summary>
internal readonly struct CudaDeviceScope : IDisposable
{
    private readonly CudaRuntime? _runtime;
    private readonly int _previous;

    private CudaDeviceScope(CudaRuntime runtime, int previous)
    {
        _runtime = runtime;
        _previous = previous;
    }

    /// <summary>Switches the calling thread to <paramref name="device"/> (only if it is not current already).</summary>
    public static CudaDeviceScope Enter(CudaRuntime runtime, int device)
    {
        int previous = runtime.GetDevice();
        if (previous == device)
        {
            return default;
        }

        runtime.SetDevice(device);
        return new CudaDeviceScope(runtime, previous);
    }

    /// <summary>Restores the device that was current before <see cref="Enter"/>.</summary>
    public void Dispose() => _runtime?.SetDevice(_previous);
}
