namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>A CUDA event of the seam, without timing; a host wait on it spins or sleeps as it was created.</summary>
internal sealed class CudaEvent(CudaRuntime runtime, string name, nint handle, DeviceEventWait hostWait) : IDeviceEvent
{
    private nint _handle = handle;

    public string Name => name;

    /// <summary>How a host wait on this event waits.</summary>
    public DeviceEventWait HostWait => hostWait;

    /// <summary>The <c>cudaEvent_t</c>; 0 once disposed.</summary>
    public nint Handle => _handle;

    public bool IsCompleted => runtime.QueryEvent(Live());

    /// <summary>The CUDA flags an event with <paramref name="hostWait"/> is created with.</summary>
    public static uint FlagsFor(DeviceEventWait hostWait) =>
        CudaRuntime.EventDisableTiming | (hostWait == DeviceEventWait.Block ? CudaRuntime.EventBlockingSync : 0u);

    public static nint HandleOf(IDeviceEvent deviceEvent) =>
        deviceEvent is CudaEvent cuda
            ? cuda.Live()
            : throw new ArgumentException($"Event {deviceEvent.Name} does not belong to the CUDA backend.", nameof(deviceEvent));

    public void Synchronize() => runtime.SynchronizeEvent(Live());

    public void Dispose()
    {
        nint handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            runtime.DestroyEvent(handle);
        }
    }

    private nint Live() => _handle != 0 ? _handle : throw new ObjectDisposedException(name);
}
