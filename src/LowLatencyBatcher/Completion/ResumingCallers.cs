namespace LowLatencyBatcher.Completion;

/// <summary>
/// How many callers a resumer is still about to run the continuations of: while any are, more submits are on their
/// way, so the batcher is not idle and the next record should be batched with theirs, not run alone (a hint read by
/// the idle fast path; resumers overwrite it, and the last write of every resumption is zero).
/// </summary>
internal sealed class ResumingCallers
{
    private int _left;

    /// <summary>True while some resumer has callers left to resume.</summary>
    public bool Any => Volatile.Read(ref _left) != 0;

    /// <summary>Records how many callers the resumer has left after the one it resumes now.</summary>
    public void Left(int callers) => Volatile.Write(ref _left, callers);
}
