namespace LowLatencyBatcher.Completion;

/// <summary>How a worker hands a finished batch's outcomes to the callers waiting for them.</summary>
internal enum CallerResumption
{
    /// <summary>Set every outcome on this thread; each waiting continuation is queued on its own.</summary>
    Direct,

    /// <summary>One pool work item runs the callers' continuations in turn.</summary>
    Queue,
}
