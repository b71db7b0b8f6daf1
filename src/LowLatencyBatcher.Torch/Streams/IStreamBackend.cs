using TorchSharp;

namespace LowLatencyBatcher.Torch.Streams;

/// <summary>
/// Everything the batch runner needs from a device: streams, events, memory, and the two kinds of work it
/// issues (host-to-device copies and computations). <see cref="CpuStreamBackend"/> runs everything in order
/// on the calling thread; the CUDA backend maps the calls onto CUDA streams and events; tests substitute a
/// recording implementation to check the order of operations.
/// </summary>
public interface IStreamBackend : IDisposable
{
    /// <summary>The device that computations run on.</summary>
    torch.Device Device { get; }

    /// <summary>Creates a stream.</summary>
    /// <param name="name">A name for diagnostics.</param>
    IDeviceStream CreateStream(string name);

    /// <summary>Creates an event.</summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="hostWait">How <see cref="IDeviceEvent.Synchronize"/> waits: spin for short waits, block for long ones.</param>
    IDeviceEvent CreateEvent(string name, DeviceEventWait hostWait);

    /// <summary>
    /// Allocates a one-dimensional <c>int64</c> host tensor for staging data on its way to the device; page-locked
    /// (pinned) where the device can copy from such memory asynchronously.
    /// </summary>
    /// <param name="elements">The number of elements.</param>
    torch.Tensor AllocateStaging(long elements);

    /// <summary>
    /// Allocates a one-dimensional <c>int64</c> tensor on <see cref="Device"/> with <paramref name="stream"/>
    /// selected, so that a stream-aware allocator files the memory under the stream that first writes it.
    /// </summary>
    /// <param name="elements">The number of elements.</param>
    /// <param name="stream">The stream that will write the tensor (the runner's copy stream).</param>
    torch.Tensor AllocateDevice(long elements, IDeviceStream stream);

    /// <summary>Issues a copy from a staging tensor to a device tensor of the same size on <paramref name="stream"/>.</summary>
    /// <param name="stream">The stream that orders the copy.</param>
    /// <param name="source">A staging tensor (or view of one).</param>
    /// <param name="destination">A device tensor (or view of one).</param>
    void Copy(IDeviceStream stream, torch.Tensor source, torch.Tensor destination);

    /// <summary>Runs <paramref name="work"/> on the calling thread with <paramref name="stream"/> selected.</summary>
    /// <typeparam name="T">What the work returns.</typeparam>
    /// <param name="stream">The stream that orders the device work <paramref name="work"/> issues.</param>
    /// <param name="work">Issues the computation and returns its host-side result.</param>
    T Compute<T>(IDeviceStream stream, Func<T> work);

    /// <summary>
    /// Prepares a thread that will issue work (for CUDA, makes <see cref="Device"/> the thread's current device).
    /// Called once at the start of each thread the runner dedicates to the device.
    /// </summary>
    void BindCurrentThread();
}
