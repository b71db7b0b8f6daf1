using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>What every check uses: the seam's runtime and factory for one device, the torch shim, timing events.</summary>
internal sealed class GpuContext(CudaRuntime runtime, CudaExtras extras, TorchShim torch, int device)
{
    public CudaRuntime Runtime => runtime;

    public CudaExtras Extras => extras;

    public TorchShim Torch => torch;

    public int Device => device;

    /// <summary>The product's own stream and event factory.</summary>
    public CudaStreamFactory Factory { get; } = new(runtime, device);

    /// <summary>A one-dimensional page-locked host tensor of <c>int64</c>.</summary>
    public AtenTensor PinnedInt64(long elements) => torch.EmptyPinned(torch.Int64, sizeof(long), elements, extras);

    /// <summary>A one-dimensional device tensor of <c>int64</c>, allocated on whatever stream is current.</summary>
    public AtenTensor DeviceInt64(long elements) => torch.Empty(torch.Int64, onCuda: true, device, elements);

    /// <summary>Milliseconds the work <paramref name="issue"/> puts on <paramref name="stream"/> takes on the device.</summary>
    public double TimeOnDevice(CudaStream stream, Action issue)
    {
        nint start = extras.CreateTimingEvent();
        nint end = extras.CreateTimingEvent();
        try
        {
            runtime.RecordEvent(start, stream.Handle);
            issue();
            runtime.RecordEvent(end, stream.Handle);
            return extras.ElapsedMilliseconds(start, end);
        }
        finally
        {
            runtime.DestroyEvent(start);
            runtime.DestroyEvent(end);
        }
    }
}
