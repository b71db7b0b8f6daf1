using System.Threading.Tasks.Dataflow;

namespace LowLatencyBatcher.Baselines;

/// <summary>
/// Baseline (b): the TPL Dataflow batcher. A bounded <see cref="BatchBlock{T}"/> of (record,
/// <see cref="TaskCompletionSource{TResult}"/>) pairs linked to a one-at-a-time <see cref="ActionBlock{T}"/> that runs
/// the process function.
/// </summary>
/// <remarks>
/// A BatchBlock only emits full batches unless told otherwise, so a careful user adds two things: eager dispatch
/// (when the worker is idle, a submit calls <see cref="BatchBlock{T}.TriggerBatch"/>; a worker that finds records
/// queued after its batch triggers the next one) and a timer at <c>BatchTimeout</c> that triggers whatever waits.
/// With <c>MinBatchSize</c> above 1 only the timer and full batches dispatch. It has no cost budget: records count,
/// not their cost.
/// </remarks>
public sealed class DataflowBatcher<TRecord, TResult> : IAsyncDisposable
{
    private readonly BatchBlock<Pending> _batches;
    private readonly ActionBlock<Pending[]> _worker;
    private readonly BatchFn<TRecord, TResult> _process;
    private readonly bool _eager;
    private readonly Timer _timer;
    private long _queued; // submitted but not yet taken by the worker
    private int _busy; // 1 while a triggered or running batch owns the worker

    /// <summary>Creates and starts the batcher.</summary>
    public DataflowBatcher(BatchFn<TRecord, TResult> process, BaselineOptions? options = null)
    {
        options ??= new BaselineOptions();
        _process = process;
        _eager = options.MinBatchSize <= 1;
        _batches = new BatchBlock<Pending>(
            options.MaxBatchSize,
            new GroupingDataflowBlockOptions { BoundedCapacity = Math.Max(options.MaxQueueSize, options.MaxBatchSize) });
        _worker = new ActionBlock<Pending[]>(RunAsync, new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = 1 });
        _batches.LinkTo(_worker, new DataflowLinkOptions { PropagateCompletion = true });
        _timer = new Timer(static state => ((BatchBlock<Pending>)state!).TriggerBatch(), _batches, options.BatchTimeout, options.BatchTimeout);
    }

    /// <summary>Submits one record; the task completes with its result.</summary>
    public Task<TResult> SubmitAsync(TRecord record)
    {
        var completion = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = new Pending(record, completion);
        if (!_batches.Post(pending))
        {
            return SubmitWhenRoomAsync(pending);
        }

        Interlocked.Increment(ref _queued); // after the post: a positive count means records a trigger can emit
        TriggerIfIdle();
        return completion.Task;
    }

    private async Task<TResult> SubmitWhenRoomAsync(Pending pending)
    {
        if (!await _batches.SendAsync(pending).ConfigureAwait(false))
        {
            throw new InvalidOperationException("The batcher is stopping.");
        }

        Interlocked.Increment(ref _queued);
        TriggerIfIdle();
        return await pending.Completion.Task.ConfigureAwait(false);
    }

    private void TriggerIfIdle()
    {
        if (_eager && Volatile.Read(ref _busy) == 0 && Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
        {
            _batches.TriggerBatch();
        }
    }

    private async Task RunAsync(Pending[] batch)
    {
        Volatile.Write(ref _busy, 1);
        Interlocked.Add(ref _queued, -batch.Length);
        var records = new TRecord[batch.Length];
        for (int i = 0; i < batch.Length; i++)
        {
            records[i] = batch[i].Record;
        }

        try
        {
            IReadOnlyList<TResult> results = await _process(records, CancellationToken.None).ConfigureAwait(false);
            if (results.Count != batch.Length)
            {
                throw new InvalidOperationException($"{results.Count} results for {batch.Length} records");
            }

            for (int i = 0; i < batch.Length; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception e)
        {
            foreach (Pending pending in batch)
            {
                pending.Completion.TrySetException(e);
            }
        }

        if (!_eager)
        {
            return;
        }

        // Records that came while this batch ran go next; otherwise the worker is idle and the next submit triggers.
        if (Interlocked.Read(ref _queued) > 0)
        {
            _batches.TriggerBatch();
            return;
        }

        Interlocked.Exchange(ref _busy, 0); // full fence: the re-check below cannot pass a submit's increment
        if (Interlocked.Read(ref _queued) > 0)
        {
            TriggerIfIdle(); // a submit that saw the worker busy just before it went idle
        }
    }

    /// <summary>Stops accepting records and waits until every accepted one completed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        _batches.Complete();
        await _worker.Completion.ConfigureAwait(false);
    }

    private readonly record struct Pending(TRecord Record, TaskCompletionSource<TResult> Completion);
}
