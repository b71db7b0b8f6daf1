namespace LowLatencyBatcher.Intake;

/// <summary>What happened to an offer to the intake ring.</summary>
internal enum EnqueueOutcome
{
    /// <summary>The item is in the ring and will be drained.</summary>
    Enqueued,

    /// <summary><see cref="IntakeRing{T}.Limit"/> items are waiting: try again once the consumer drains.</summary>
    Full,

    /// <summary>The ring was closed: it accepts nothing more.</summary>
    Closed,
}
