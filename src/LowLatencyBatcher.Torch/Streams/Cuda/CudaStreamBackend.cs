using LowLatencyBatcher.Torch.Native;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// The CUDA implementation of the stream seam: non-blocking CUDA streams and timing-free events from the CUDA
/// runtime, stream selection through libtorch's stream guard, page-locked staging memory. Create it only when
/// <c>torch.cuda.is_available()</c> is true.
/// </summary>
public sealed class CudaStreamBackend : IStreamBackend
{
    private readonly CudaRuntime _runtime;
    private readonly int _deviceIndex;

    /// <summary>Binds the CUDA runtime that libtorch uses and targets device <paramref name="deviceIndex"/>.</summary>
    /// <param name="deviceIndex">The CUDA device ordinal.</param>
    public CudaStreamBackend(int deviceIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceIndex);
        TorchNative.EnsureLoaded();
        _deviceIndex = deviceIndex;
        Device = torch.device(DeviceType.CUDA, deviceIndex);
        _runtime = CudaRuntime.Instance;
    }

    /// <inheritdoc />
    public torch.Device Device { get; }

    /// <summary>The CUDA runtime library that was bound.</summary>
    public string RuntimeLibraryPath => _runtime.LibraryPath;

    /// <inheritdoc />
    public IDeviceStream CreateStream(string name)
    {
        _runtime.SetDevice(_deviceIndex);
        // Non-blocking: the stream must not serialise with the legacy default stream that other code may use.
        return new CudaStream(_runtime, name, _runtime.CreateStream(CudaRuntime.StreamNonBlocking), _deviceIndex);
    }

    /// <inheritdoc />
    public IDeviceEvent CreateEvent(string name)
    {
        _runtime.SetDevice(_deviceIndex);
        return new CudaEvent(_runtime, name, _runtime.CreateEvent(CudaRuntime.EventDisableTiming));
    }

    /// <inheritdoc />
    public torch.Tensor AllocateStaging(long elements)
    {
        // Only page-locked memory lets a non_blocking copy run asynchronously; from pageable memory the
        // driver stages through its own buffer and the copy blocks the issuing thread.
        using var pageable = torch.empty(elements, torch.int64);
        return pageable.pin_memory();
    }

    /// <inheritdoc />
    public torch.Tensor AllocateDevice(long elements) => torch.empty(elements, torch.int64, device: Device);

    /// <inheritdoc />
    public void Copy(IDeviceStream stream, torch.Tensor source, torch.Tensor destination)
    {
        using (stream.Select())
            destination.copy_(source, nonBlocking: true);
    }

    /// <inheritdoc />
    public T Compute<T>(IDeviceStream stream, Func<T> work)
    {
        using (stream.Select())
            return work();
    }

    /// <inheritdoc />
    public void BindCurrentThread() => _runtime.SetDevice(_deviceIndex);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class CudaStream(CudaRuntime runtime, string name, nint handle, int device) : IDeviceStream
    {
        private nint _handle = handle;

        public string Name => name;

        public void Record(IDeviceEvent deviceEvent) => runtime.RecordEvent(CudaEvent.HandleOf(deviceEvent), _handle);

        public void Wait(IDeviceEvent deviceEvent) => runtime.StreamWaitEvent(_handle, CudaEvent.HandleOf(deviceEvent));

        public void Synchronize() => runtime.SynchronizeStream(_handle);

        public StreamScope Select() => new(CudaStreamGuard.Delete, CudaStreamGuard.Create(_handle, device));

        public void Dispose()
        {
            nint handle = Interlocked.Exchange(ref _handle, 0);
            if (handle != 0)
                runtime.DestroyStream(handle);
        }
    }

    private sealed class CudaEvent(CudaRuntime runtime, string name, nint handle) : IDeviceEvent
    {
        private nint _handle = handle;

        public string Name => name;

        public bool IsCompleted => runtime.QueryEvent(_handle);

        public static nint HandleOf(IDeviceEvent deviceEvent) =>
            deviceEvent is CudaEvent cuda
                ? cuda._handle
                : throw new ArgumentException($"Event {deviceEvent.Name} does not belong to the CUDA backend.", nameof(deviceEvent));

        public void Synchronize() => runtime.SynchronizeEvent(_handle);

        public void Dispose()
        {
            nint handle = Interlocked.Exchange(ref _handle, 0);
            if (handle != 0)
                runtime.DestroyEvent(handle);
        }
    }
}
