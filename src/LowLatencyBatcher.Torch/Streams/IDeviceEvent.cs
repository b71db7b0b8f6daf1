namespace LowLatencyBatcher.Torch.Streams;

/// <summary>
/// A marker placed on a <see cref="IDeviceStream"/>: it completes when all work issued to that stream before
/// the marker was recorded has finished. Recording again moves the marker.
/// </summary>
public interface IDeviceEvent : IDisposable
{
    /// <summary>A name for diagnostics.</summary>
    string Name { get; }

    /// <summary>True when the work captured by the latest record has finished (or nothing was recorded).</summary>
    bool IsCompleted { get; }

    /// <summary>Blocks the calling thread until the work captured by the latest record has finished.</summary>
    void Synchronize();
}
