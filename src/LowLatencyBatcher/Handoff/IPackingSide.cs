namespace LowLatencyBatcher.Handoff;

/// <summary>
/// What a worker may ask of the packing side: whether records wait to be packed, a wake-up of the packing thread,
/// and one round of packing on the worker's own thread (the packing token). Implemented by the packing loop; workers
/// see only this, so the hand-off does not depend on the packing code that feeds it.
/// </summary>
internal interface IPackingSide
{
    /// <summary>True when the last round of packing left records behind (an open batch, or a record at a lane's head).</summary>
    bool HoldsRecords { get; }

    /// <summary>Wakes the packing thread if it is parked (after the caller's change was published with a full fence).</summary>
    void Wake();

    /// <summary>Packs one round on the calling thread if the packing token is free; false, having done nothing, if not.</summary>
    /// <param name="asIdleWorker">
    /// The caller is a worker that has just resumed its callers and will take the next batch itself: it counts as idle
    /// for rule 3.
    /// </param>
    bool TryPackFromWorker(bool asIdleWorker);

    /// <summary>A worker finished a batch whose callers are still to be resumed: whoever resumes them packs next.</summary>
    void AddPackingResumer();

    /// <summary>A batch's callers were resumed; their resumer packs next. A full fence.</summary>
    void RemovePackingResumer();

    /// <summary>
    /// A worker began running callers' continuations on its own thread (after a full fence): if the packing thread
    /// sleeps with no deadline, wake it, so that it watches for a continuation that blocks (see <c>Worker.Watch</c>).
    /// </summary>
    void KeepWatch();
}
