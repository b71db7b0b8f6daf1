using LowLatencyBatcher.Torch.Native;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// The CUDA implementation of the stream seam: non-blocking CUDA streams and timing-free events from the CUDA
/// runtime that libtorch loaded, stream selection through libtorch's stream guard, page-locked staging memory.
/// Create it only when <c>torch.cuda.is_available()</c> is true. Creating streams and events leaves the calling
/// thread's current device as it was.
/// </summary>
/// <remarks>
/// Designed against the CUDA runtime and libtorch headers and checked by <c>perf/LowLatencyBatcher.GpuCheck</c>;
/// see <c>docs/gpu.md</c> for what has been run on a GPU.
/// </remarks>
public sealed class CudaStreamBackend : IStreamBackend
{
    private readonly CudaStreamFactory _factory;

    /// <summary>Binds the CUDA runtime that libtorch uses and targets device <paramref name="deviceIndex"/>.</summary>
    /// <param name="deviceIndex">The CUDA device ordinal.</param>
    public CudaStreamBackend(int deviceIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceIndex);
        TorchNative.EnsureLoaded();
        Device = torch.device(DeviceType.CUDA, deviceIndex);
        _factory = new CudaStreamFactory(CudaRuntime.Instance, deviceIndex);
    }

    /// <inheritdoc />
    public torch.Device Device { get; }

    /// <summary>The CUDA runtime library that was bound.</summary>
    public string RuntimeLibraryPath => _factory.Runtime.LibraryPath;

    /// <inheritdoc />
    public IDeviceStream CreateStream(string name) => _factory.CreateStream(name);

    /// <inheritdoc />
    public IDeviceEvent CreateEvent(string name, DeviceEventWait hostWait) => _factory.CreateEvent(name, hostWait);

    /// <inheritdoc />
    public torch.Tensor AllocateStaging(long elements)
    {
        // Only page-locked memory lets a non_blocking copy run asynchronously; from pageable memory the
        // driver stages through its own buffer and the copy blocks the issuing thread.
        using var pageable = torch.empty(elements, torch.int64);
        return pageable.pin_memory();
    }

    /// <inheritdoc />
    public torch.Tensor AllocateDevice(long elements, IDeviceStream stream)
    {
        // The caching allocator files a block under the stream current at allocation: the copy stream, which
        // writes it first. The compute stream reads it only after waiting on the copy's event, and the runner
        // frees it only after both streams are done with it.
        using (stream.Select())
        {
            return torch.empty(elements, torch.int64, device: Device);
        }
    }

    /// <inheritdoc />
    public void Copy(IDeviceStream stream, torch.Tensor source, torch.Tensor destination)
    {
        using (stream.Select())
        {
            destination.copy_(source, nonBlocking: true);
        }
    }

    /// <inheritdoc />
    public T Compute<T>(IDeviceStream stream, Func<T> work)
    {
        using (stream.Select())
        {
            return work();
        }
    }

    /// <inheritdoc />
    public void BindCurrentThread() => _factory.BindCurrentThread();

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
