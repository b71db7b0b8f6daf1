namespace LowLatencyBatcher.Torch.Streams;

/// <summary>How a thread that calls <see cref="IDeviceEvent.Synchronize"/> waits for the event.</summary>
public enum DeviceEventWait
{
    /// <summary>
    /// The thread polls until the event completes: the quickest wake-up, but a core stays busy for the whole wait.
    /// For waits that are usually already over or very short.
    /// </summary>
    Spin,

    /// <summary>
    /// The thread sleeps until the device signals the event (CUDA's <c>cudaEventBlockingSync</c>): no core is
    /// spent, at the price of a slower wake-up. For waits that may last as long as a computation.
    /// </summary>
    Block,
}
