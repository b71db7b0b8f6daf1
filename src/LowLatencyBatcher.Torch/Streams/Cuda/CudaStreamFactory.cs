namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// Makes the seam's streams and events for one CUDA device without touching TorchSharp, leaving the calling
/// thread on the device it was on. <see cref="CudaStreamBackend"/> adds the tensor side.
/// </summary>
internal sealed class CudaStreamFactory(CudaRuntime runtime, int deviceIndex)
{
    /// <summary>The bound CUDA runtime.</summary>
    public CudaRuntime Runtime => runtime;

    /// <summary>The CUDA device ordinal.</summary>
    public int DeviceIndex => deviceIndex;

    /// <summary>A non-blocking stream: it must not serialise with the legacy default stream that other code may use.</summary>
    public CudaStream CreateStream(string name)
    {
        using (CudaDeviceScope.Enter(runtime, deviceIndex))
        {
            return new CudaStream(runtime, name, runtime.CreateStream(CudaRuntime.StreamNonBlocking), deviceIndex);
        }
    }

    /// <summary>A timing-free event whose host waits spin or sleep as <paramref name="hostWait"/> says.</summary>
    public CudaEvent CreateEvent(string name, DeviceEventWait hostWait)
    {
        using (CudaDeviceScope.Enter(runtime, deviceIndex))
        {
            return new CudaEvent(runtime, name, runtime.CreateEvent(CudaEvent.FlagsFor(hostWait)), hostWait);
        }
    }

    /// <summary>Makes <see cref="DeviceIndex"/> current for a thread dedicated to this device (not restored).</summary>
    public void BindCurrentThread() => runtime.SetDevice(deviceIndex);
}
