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
/// <param name="Lane">
/// The priority lane it was submitted to (a byte: at most <c>BatcherSettings.MaxPriorityLanes</c>; with the flag below the
/// item stays 32 bytes for a small record, as many slots to a cache line as without it).
/// </param>
/// <param name="MayBeDropped">
/// Whether its caller's token or a deadline may complete it while it is queued. The packing thread checks only such a
/// record for being dropped, so it never touches the completion of any other (that cache line belongs to the
/// submitter's and the worker's core), and the worker takes any other with a read instead of
/// <see cref="RecordCompletion{TResult}.TryStartRunning"/>'s CAS. An aborted stop, the only other way to complete a
/// queued record, is seen by that read, or, once the record runs, by the claim of its outcome, which then fails.
/// </param>
internal readonly record struct IntakeItem<TRecord, TResult>(
    TRecord Record, RecordCompletion<TResult> Completion, int Generation, int Cost, long Arrival, byte Lane, bool MayBeDropped);
