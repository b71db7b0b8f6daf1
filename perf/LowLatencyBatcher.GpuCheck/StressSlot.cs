using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// One of two alternating buffer sets of the ordering stress, kept as the runner's staging slot keeps its own:
/// a pinned staging buffer, the device buffer it is copied into (allocated on the copy stream), a device buffer
/// the computation writes (allocated on the compute stream), the copy-done event (spins) and the compute-done
/// event (sleeps). They grow, after waiting on both events, when a batch does not fit.
/// </summary>
internal sealed class StressSlot : IDisposable
{
    private readonly GpuContext _gpu;
    private readonly CudaStream _copy;
    private readonly CudaStream _compute;

    public StressSlot(GpuContext gpu, CudaStream copy, CudaStream compute, int index, long capacity)
    {
        _gpu = gpu;
        _copy = copy;
        _compute = compute;
        CopyDone = gpu.Factory.CreateEvent($"copy-done[{index}]", DeviceEventWait.Spin);
        ComputeDone = gpu.Factory.CreateEvent($"compute-done[{index}]", DeviceEventWait.Block);
        Allocate(capacity);
    }

    public CudaEvent CopyDone { get; }

    public CudaEvent ComputeDone { get; }

    public AtenTensor Staging { get; private set; } = null!;

    public AtenTensor Device { get; private set; } = null!;

    public AtenTensor Result { get; private set; } = null!;

    public long Capacity { get; private set; }

    public int Reallocations { get; private set; }

    /// <summary>Grows the buffers to hold <paramref name="elements"/> once all earlier work on the slot is done.</summary>
    public void EnsureCapacity(long elements)
    {
        if (elements <= Capacity)
        {
            return;
        }

        CopyDone.Synchronize();
        ComputeDone.Synchronize();
        Release();
        Allocate(Math.Max(elements, Capacity * 5 / 4));
        Reallocations++;
    }

    private void Allocate(long capacity)
    {
        Capacity = capacity;
        Staging = _gpu.PinnedInt64(capacity);
        using (_copy.Select())
        {
            Device = _gpu.DeviceInt64(capacity);
        }

        using (_compute.Select())
        {
            Result = _gpu.DeviceInt64(capacity);
        }
    }

    private void Release()
    {
        Staging.Dispose();
        Device.Dispose();
        Result.Dispose();
    }

    public void Dispose()
    {
        Release();
        CopyDone.Dispose();
        ComputeDone.Dispose();
    }
}
