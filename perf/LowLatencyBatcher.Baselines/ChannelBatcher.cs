using System.Diagnostics;
using System.Threading.Channels;

namespace LowLatencyBatcher.Baselines;

/// <summary>
/// Baseline (a): the batcher a careful C# user writes with the BCL. A bounded <see cref="Channel{T}"/> of
/// (record, <see cref="TaskCompletionSource{TResult}"/>) pairs and one async packing loop that takes what is waiting
/// (up to the batch size and cost budget), waits for more only while the batch is below the minimum size and its
/// timeout has not passed, runs the process function and completes each record's source.
/// </summary>
/// <remarks>
/// One task source per record (with asynchronous continuations, so callers never run on the loop), and the loop is
/// also the worker: with a process function that completes at once that is the fastest shape this design has.
/// </remarks>
public sealed class ChannelBatcher<TRecord, TResult> : IAsyncDisposable
{
    private readonly Channel<Pending> _channel;
    private readonly BatchFn<TRecord, TResult> _process;
    private readonly Func<TRecord, int> _cost;
    private readonly BaselineOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    /// <summary>Creates the batcher; <see cref="Start"/> runs its loop.</summary>
    public ChannelBatcher(BatchFn<TRecord, TResult> process, BaselineOptions? options = null, Func<TRecord, int>? cost = null)
    {
        _process = process;
        _options = options ?? new BaselineOptions();
        _cost = cost ?? (static _ => 1);
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.MaxQueueSize)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Starts the packing loop.</summary>
    public void Start() => _loop = Task.Run(LoopAsync);

    /// <summary>Submits one record; the task completes with its result.</summary>
    public Task<TResult> SubmitAsync(TRecord record)
    {
        var completion = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = new Pending(record, _cost(record), completion, Stopwatch.GetTimestamp());
        return _channel.Writer.TryWrite(pending) ? completion.Task : SubmitWhenRoomAsync(pending);
    }

    private async Task<TResult> SubmitWhenRoomAsync(Pending pending)
    {
        await _channel.Writer.WriteAsync(pending).ConfigureAwait(false);
        return await pending.Completion.Task.ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        ChannelReader<Pending> reader = _channel.Reader;
        var records = new List<TRecord>(_options.MaxBatchSize);
        var batch = new List<Pending>(_options.MaxBatchSize);
        Pending carry = default;
        bool hasCarry = false;
        while (hasCarry || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long cost = 0;
            long deadline = 0;
            bool full = false;
            while (true)
            {
                while (batch.Count < _options.MaxBatchSize)
                {
                    Pending next;
                    if (hasCarry)
                    {
                        next = carry;
                        hasCarry = false;
                    }
                    else if (!reader.TryRead(out next))
                    {
                        break;
                    }

                    if (batch.Count > 0 && cost + next.Cost > _options.TargetBatchCost)
                    {
                        carry = next; // starts the next batch: the budget is hard
                        hasCarry = true;
                        full = true;
                        break;
                    }

                    if (batch.Count == 0)
                    {
                        deadline = next.Arrival + (long)(_options.BatchTimeout.TotalSeconds * Stopwatch.Frequency);
                    }

                    batch.Add(next);
                    records.Add(next.Record);
                    cost += next.Cost;
                }

                if (full || batch.Count >= _options.MaxBatchSize || batch.Count >= _options.MinBatchSize)
                {
                    break;
                }

                // Below the minimum: wait for more records, but not past the first record's deadline.
                TimeSpan remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero || !await MoreBeforeAsync(reader, remaining).ConfigureAwait(false))
                {
                    break;
                }
            }

            if (batch.Count > 0)
            {
                await RunAsync(records, batch).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> MoreBeforeAsync(ChannelReader<Pending> reader, TimeSpan remaining)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(remaining);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RunAsync(List<TRecord> records, List<Pending> batch)
    {
        try
        {
            IReadOnlyList<TResult> results = await _process(records, CancellationToken.None).ConfigureAwait(false);
            if (results.Count != batch.Count)
            {
                throw new InvalidOperationException($"{results.Count} results for {batch.Count} records");
            }

            for (int i = 0; i < batch.Count; i++)
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

        batch.Clear();
        records.Clear();
    }

    /// <summary>Stops accepting records and waits until every accepted one completed.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private readonly record struct Pending(TRecord Record, int Cost, TaskCompletionSource<TResult> Completion, long Arrival);
}
