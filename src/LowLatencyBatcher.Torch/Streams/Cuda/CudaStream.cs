namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// A non-blocking CUDA stream of the seam; <see cref="Select"/> makes it torch's current stream for the calling
/// thread through libtorch's stream guard.
/// </summary>
internal sealed class CudaStream(CudaRuntime runtime, string name, nint handle, int device) : IDeviceStream
{
    private nint _handle = handle;

    public string Name => name;

    /// <summary>The <c>cudaStream_t</c>; 0 once disposed.</summary>
    public nint Handle => _handle;

    /// <summary>The device the stream belongs to.</summary>
    public int Device => device;

    public void Record(IDeviceEvent deviceEvent) => runtime.RecordEvent(CudaEvent.HandleOf(deviceEvent), Live());

    public void Wait(IDeviceEvent deviceEvent) => runtime.StreamWaitEvent(Live(), CudaEvent.HandleOf(deviceEvent));

    public void Synchronize() => runtime.SynchronizeStream(Live());

    public StreamScope Select() => new(CudaStreamGuard.Delete, CudaStreamGuard.Create(Live(), device));

    public void Dispose()
    {
        nint handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            runtime.DestroyStream(handle);
        }
    }

    private nint Live() => _handle != 0 ? _handle : throw new ObjectDisposedException(name);
}
