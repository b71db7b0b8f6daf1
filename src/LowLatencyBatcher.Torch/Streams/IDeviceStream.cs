namespace LowLatencyBatcher.Torch.Streams;

/// <summary>An in-order queue of device work (a CUDA stream; on the CPU, the calling thread).</summary>
public interface IDeviceStream : IDisposable
{
    /// <summary>A name for diagnostics.</summary>
    string Name { get; }

    /// <summary>Places <paramref name="deviceEvent"/> after the work issued to this stream so far.</summary>
    void Record(IDeviceEvent deviceEvent);

    /// <summary>
    /// Makes work issued to this stream from now on wait, on the device, for the latest record of
    /// <paramref name="deviceEvent"/>. The calling thread does not block.
    /// </summary>
    void Wait(IDeviceEvent deviceEvent);

    /// <summary>Blocks the calling thread until all work issued to this stream has finished.</summary>
    void Synchronize();

    /// <summary>
    /// Makes this stream the current one for TorchSharp work issued by the calling thread, until the returned
    /// scope is disposed (on the same thread: the selection is per thread, so never hold it across an await).
    /// </summary>
    StreamScope Select();
}
