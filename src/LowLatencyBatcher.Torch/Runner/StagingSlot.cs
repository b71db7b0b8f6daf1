using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Streams;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Runner;

/// <summary>
/// One of the runner's two alternating buffer pairs: a host staging buffer (pinned where the device supports
/// it) and the device buffer it is copied into, with the events and the permit that guard their reuse.
/// Both buffers are allocated once and grow only when a batch does not fit. There is no
/// <c>record_stream</c> in TorchSharp, so the device buffer is never freed while a stream may still use it.
/// </summary>
internal sealed class StagingSlot : IDisposable
{
    private readonly IStreamBackend _backend;
    private readonly IDeviceStream _copyStream;
    private readonly int _rows;
    private torch.Tensor _staging;
    private torch.Tensor _device;

    /// <param name="backend">Makes the events and buffers.</param>
    /// <param name="copyStream">The stream that writes the device buffer: device memory is allocated under it.</param>
    /// <param name="index">The slot's number.</param>
    /// <param name="rows">The most records a batch may hold.</param>
    /// <param name="initialSequenceLength">The padded length the buffers are first sized for.</param>
    public StagingSlot(IStreamBackend backend, IDeviceStream copyStream, int index, int rows, int initialSequenceLength)
    {
        _backend = backend;
        _copyStream = copyStream;
        _rows = rows;
        Index = index;
        // The host waits on a copy before it rewrites the staging buffer: that copy was issued a whole batch
        // earlier and is almost always done, so the wait spins. It waits on a computation only to grow the
        // buffers, and that wait may last a whole forward pass: it sleeps.
        CopyDone = backend.CreateEvent($"copy-done[{index}]", DeviceEventWait.Spin);
        ComputeDone = backend.CreateEvent($"compute-done[{index}]", DeviceEventWait.Block);
        Capacity = BatchPacker.PackedElements(rows, initialSequenceLength);
        _staging = backend.AllocateStaging(Capacity);
        _device = backend.AllocateDevice(Capacity, copyStream);
    }

    public int Index { get; }

    /// <summary>Recorded on the copy stream after the copy out of the staging buffer.</summary>
    public IDeviceEvent CopyDone { get; }

    /// <summary>Recorded on the compute stream after the computation that read the device buffer.</summary>
    public IDeviceEvent ComputeDone { get; }

    /// <summary>Held from packing until the computation has been issued and its events recorded.</summary>
    public SemaphoreSlim Permit { get; } = new(1, 1);

    /// <summary>The size of each buffer in <c>int64</c> elements.</summary>
    public long Capacity { get; private set; }

    /// <summary>Times the buffers were reallocated to fit a longer batch.</summary>
    public int Reallocations { get; private set; }

    /// <summary>
    /// Grows both buffers to hold <paramref name="elements"/>, sized for the full row count at the new length so
    /// that growth stays rare. Waits for all earlier work on the slot first.
    /// </summary>
    public void EnsureCapacity(long elements, int paddedLength)
    {
        if (elements <= Capacity)
        {
            return;
        }

        CopyDone.Synchronize();
        ComputeDone.Synchronize();
        long grown = Math.Max(elements, BatchPacker.PackedElements(_rows, (int)Math.Min(int.MaxValue, (long)paddedLength * 5 / 4)));
        _staging.Dispose();
        _device.Dispose();
        _staging = _backend.AllocateStaging(grown);
        _device = _backend.AllocateDevice(grown, _copyStream);
        Capacity = grown;
        Reallocations++;
    }

    /// <summary>The first <paramref name="elements"/> of the staging buffer, writable in place.</summary>
    public Span<long> StagingSpan(long elements) => MemoryMarshal.Cast<byte, long>(_staging.bytes)[..checked((int)elements)];

    /// <summary>A view of the first <paramref name="elements"/> of the staging buffer.</summary>
    public torch.Tensor StagingView(long elements) => _staging.narrow(0, 0, elements);

    /// <summary>A view of the first <paramref name="elements"/> of the device buffer.</summary>
    public torch.Tensor DeviceView(long elements) => _device.narrow(0, 0, elements);

    /// <summary>Releases the buffers, events and permit; every part is released even if one fails.</summary>
    public void Dispose()
    {
        var cleanup = new CleanupSequence();
        Release(cleanup);
        cleanup.ThrowIfFailed();
    }

    /// <summary>Releases the buffers, events and permit as steps of <paramref name="cleanup"/>.</summary>
    public void Release(CleanupSequence cleanup)
    {
        cleanup.Dispose(_staging);
        cleanup.Dispose(_device);
        cleanup.Dispose(CopyDone);
        cleanup.Dispose(ComputeDone);
        cleanup.Dispose(Permit);
    }
}
