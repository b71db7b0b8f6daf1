namespace LowLatencyBatcher.Torch.Runner;

/// <summary>One batch on its way through the runner's pipeline.</summary>
internal sealed class BatchWork(IReadOnlyList<TokenSequence> records, CancellationToken cancellationToken)
{
    public IReadOnlyList<TokenSequence> Records { get; } = records;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    // Continuations must not run on the runner's device threads.
    public TaskCompletionSource<IReadOnlyList<float[]>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StagingSlot? Slot { get; set; }

    public long Sequence { get; set; }

    public int PaddedLength { get; set; }

    public int[] Lengths { get; set; } = [];

    public long PackedElements => BatchPacker.PackedElements(Lengths.Length, PaddedLength);

    public void Fail(Exception exception)
    {
        if (exception is OperationCanceledException && CancellationToken.IsCancellationRequested)
        {
            Completion.TrySetCanceled(CancellationToken);
        }
        else
        {
            Completion.TrySetException(exception);
        }
    }
}
