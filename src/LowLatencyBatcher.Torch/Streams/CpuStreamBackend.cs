using LowLatencyBatcher.Torch.Native;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Streams;

/// <summary>
/// The CPU implementation of the stream seam: every operation completes before it returns, so streams and
/// events carry no state. The runner's pipeline still overlaps packing with computation through its threads.
/// </summary>
public sealed class CpuStreamBackend : IStreamBackend
{
    /// <summary>Creates the backend (and makes sure TorchSharp's native code can load).</summary>
    public CpuStreamBackend() => TorchNative.EnsureLoaded();

    /// <inheritdoc />
    public torch.Device Device => torch.CPU;

    /// <inheritdoc />
    public IDeviceStream CreateStream(string name) => new CpuStream(name);

    /// <inheritdoc />
    public IDeviceEvent CreateEvent(string name, DeviceEventWait hostWait) => new CpuEvent(name);

    /// <inheritdoc />
    public torch.Tensor AllocateStaging(long elements) => torch.empty(elements, torch.int64);

    /// <inheritdoc />
    public torch.Tensor AllocateDevice(long elements, IDeviceStream stream) => torch.empty(elements, torch.int64);

    /// <inheritdoc />
    public void Copy(IDeviceStream stream, torch.Tensor source, torch.Tensor destination) => destination.copy_(source);

    /// <inheritdoc />
    public T Compute<T>(IDeviceStream stream, Func<T> work) => work();

    /// <inheritdoc />
    public void BindCurrentThread()
    {
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class CpuStream(string name) : IDeviceStream
    {
        public string Name => name;

        public void Record(IDeviceEvent deviceEvent)
        {
        }

        public void Wait(IDeviceEvent deviceEvent)
        {
        }

        public void Synchronize()
        {
        }

        public StreamScope Select() => default;

        public void Dispose()
        {
        }
    }

    private sealed class CpuEvent(string name) : IDeviceEvent
    {
        public string Name => name;

        public bool IsCompleted => true;

        public void Synchronize()
        {
        }

        public void Dispose()
        {
        }
    }
}
