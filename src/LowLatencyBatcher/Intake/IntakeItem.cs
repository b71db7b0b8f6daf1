using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Intake;

/// <summary>One accepted record as it travels through the intake ring and into a batch.</summary>
/// <param name="Record">The caller's record.</param>
/// <param name="Completion">Where its result goes.</param>
/// <param name="Generation">The completion's generation for this record (see <see cref="RecordCompletion{TResult}"/>).</param>
/// <param name="Cost">The cost estimated at submit.</param>
/// <param name="Arrival">
/// The timestamp of the submit, or <see cref="Primitives.Timestamps.NotStamped"/> when nothing needed it (see
/// <c>BatcherSettings.StampsEverySubmit</c>): a batch's timeout counts from its first record's arrival, or from its
/// opening when that record is unstamped.
/// </param>
/// <param name="Lane">The priority lane it was submitted to.</param>
internal readonly record struct IntakeItem<TRecord, TResult>(
    TRecord Record, RecordCompletion<TResult> Completion, int Generation, int Cost, long Arrival, int Lane);
