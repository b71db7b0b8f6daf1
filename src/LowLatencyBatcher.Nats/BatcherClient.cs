using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// Submits records to remote workers over NATS. <see cref="SubmitAsync"/> is the online path (request-reply to one
/// worker of the queue group; retried on "busy" and on no reply); <see cref="SubmitBulk"/> is the durable path (the
/// records go to the JetStream work queue, and their results are read from the results stream as they arrive).
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public sealed class BatcherClient<TRecord, TResult> : IAsyncDisposable
{
    private static readonly TimeSpan ResultsAckWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PublishRetryPause = TimeSpan.FromMilliseconds(200);

    private readonly BatcherClientOptions _options;
    private readonly IBatcherCodec<TResult> _resultCodec;
    private readonly CodecSerializer<TRecord> _recordSerializer;
    private readonly BatcherTopology _topology;
    private readonly INatsConnection _connection;
    private readonly bool _ownsConnection;
    private readonly SemaphoreSlim _setup = new(1, 1);
    private INatsJSContext? _js;
    private long _attempts, _busy, _noReply;

    /// <summary>Creates a client.</summary>
    /// <param name="options">The client's options; checked here.</param>
    /// <param name="recordCodec">How records are written (System.Text.Json when null); the workers must read them with the same codec.</param>
    /// <param name="resultCodec">How results are read (System.Text.Json when null).</param>
    /// <param name="connection">A NATS connection to use (not disposed by the client); when null the client opens its own to <see cref="NatsBatcherOptions.Url"/>.</param>
    /// <exception cref="ArgumentException">An option breaks its rule; the message names it.</exception>
    public BatcherClient(
        BatcherClientOptions options,
        IBatcherCodec<TRecord>? recordCodec = null,
        IBatcherCodec<TResult>? resultCodec = null,
        INatsConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        _options = options;
        _recordSerializer = new CodecSerializer<TRecord>(recordCodec ?? new JsonBatcherCodec<TRecord>());
        _resultCodec = resultCodec ?? new JsonBatcherCodec<TResult>();
        _topology = new BatcherTopology(options);
        if (connection is null)
        {
            _connection = new NatsConnection(new NatsOpts { Url = options.Url, Name = "llb-client" });
            _ownsConnection = true;
        }
        else
        {
            _connection = connection;
        }
    }

    /// <summary>Online attempts made (first tries and retries).</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Online attempts answered "busy".</summary>
    public long BusyAnswers => Interlocked.Read(ref _busy);

    /// <summary>Online attempts that got no reply (no worker listening, or none in time).</summary>
    public long NoReplies => Interlocked.Read(ref _noReply);

    /// <summary>
    /// Submits one record to one worker and returns its result. An answer "busy" (the worker's batcher is full) and
    /// no reply within <see cref="BatcherClientOptions.RequestTimeout"/> are tried again, after a growing pause, up to
    /// <see cref="BatcherClientOptions.MaxRetries"/> times and within <see cref="BatcherClientOptions.Timeout"/>.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="cancellationToken">Cancels the submit.</param>
    /// <returns>The record's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="RemoteBatcherException">The worker reported the record's failure, or could not read it.</exception>
    /// <exception cref="BatcherBusyException">Every attempt was answered "busy".</exception>
    /// <exception cref="TimeoutException">No result within <see cref="BatcherClientOptions.Timeout"/>, or no reply to any attempt.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>
    /// An attempt that got no reply may still have been processed by a worker (the reply was lost): the online path
    /// is at-least-once for retried records. Use the bulk path when a record must be processed once per result.
    /// </remarks>
    public async Task<TResult> SubmitAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        long start = Environment.TickCount64;
        long deadline = start + (long)_options.Timeout.TotalMilliseconds;
        var delay = _options.RetryDelay;
        bool lastBusy = false;
        for (int attempt = 1; ; attempt++)
        {
            long remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
            {
                throw new TimeoutException(
                    $"No result within Timeout {_options.Timeout} after {attempt - 1} attempt(s); the last was {(lastBusy ? "answered busy" : "not answered")}.");
            }

            Interlocked.Increment(ref _attempts);
            var headers = new NatsHeaders { [WireHeaders.TimeoutMs] = remaining.ToString(CultureInfo.InvariantCulture) };
            var wait = TimeSpan.FromMilliseconds(Math.Min(remaining, (long)_options.RequestTimeout.TotalMilliseconds));
            NatsMsg<byte[]> reply;
            try
            {
                reply = await _connection.RequestAsync<TRecord, byte[]>(
                    _topology.OnlineSubject,
                    record,
                    headers,
                    requestSerializer: _recordSerializer,
                    replyOpts: new NatsSubOpts { Timeout = wait },
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is NatsNoReplyException or NatsNoRespondersException)
            {
                Interlocked.Increment(ref _noReply);
                lastBusy = false;
                if (attempt > _options.MaxRetries)
                {
                    throw new TimeoutException(
                        $"No worker answered on '{_topology.OnlineSubject}' in {attempt} attempt(s) "
                        + $"({(error is NatsNoRespondersException ? "no worker is listening" : $"none within RequestTimeout {_options.RequestTimeout}")}).",
                        error);
                }

                delay = await PauseAsync(delay, deadline, cancellationToken).ConfigureAwait(false);
                continue;
            }

            string status = Header(reply.Headers, WireHeaders.Status) ?? "";
            string? worker = Header(reply.Headers, WireHeaders.Worker);
            switch (status)
            {
                case WireHeaders.StatusOk:
                    try
                    {
                        return _resultCodec.Decode(new ReadOnlySequence<byte>(reply.Data ?? []));
                    }
                    catch (FormatException error)
                    {
                        throw new RemoteBatcherException(
                            $"The result from worker '{worker}' could not be read with the '{_resultCodec.Name}' codec: {error.Message}",
                            WireHeaders.StatusBadRequest,
                            worker);
                    }

                case WireHeaders.StatusBusy:
                    Interlocked.Increment(ref _busy);
                    lastBusy = true;
                    if (attempt > _options.MaxRetries)
                    {
                        throw new BatcherBusyException(attempt);
                    }

                    delay = await PauseAsync(delay, deadline, cancellationToken).ConfigureAwait(false);
                    continue;

                case WireHeaders.StatusError or WireHeaders.StatusBadRequest:
                    throw new RemoteBatcherException(
                        Header(reply.Headers, WireHeaders.Error) ?? "The worker reported an error without a message.", status, worker);

                default:
                    throw new RemoteBatcherException(
                        $"The reply on '{_topology.OnlineSubject}' has no valid {WireHeaders.Status} header ('{status}'): is something other than a batcher worker listening there?",
                        WireHeaders.StatusBadRequest,
                        worker);
            }
        }
    }

    /// <summary>
    /// Prepares a bulk run of <paramref name="records"/> through the durable work queue; enumerating the returned run
    /// publishes them and yields each outcome as it arrives. Nothing accepted by the stream is lost: a record whose
    /// worker dies is delivered to another after the workers' <c>AckWait</c>.
    /// </summary>
    /// <param name="records">The records (read once, lazily, while the run publishes).</param>
    /// <returns>The run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="records"/> is null.</exception>
    public BulkRun<TRecord, TResult> SubmitBulk(IEnumerable<TRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        return new BulkRun<TRecord, TResult>(this, records);
    }

    /// <summary>Closes the client's own connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _setup.Dispose();
    }

    internal async IAsyncEnumerable<BulkResult<TResult>> RunBulkAsync(
        BulkRun<TRecord, TResult> run, IEnumerable<TRecord> records, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var js = await JetStreamAsync(cancellationToken).ConfigureAwait(false);
        string subject = _topology.ResultsSubject(run.JobId);
        string consumerName = $"results-{run.JobId}";
        var consumer = await js.CreateOrUpdateConsumerAsync(_topology.ResultsStream, new ConsumerConfig(consumerName)
        {
            FilterSubject = subject,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = ResultsAckWait,
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            InactiveThreshold = TimeSpan.FromMinutes(10),
            MaxAckPending = 20_000,
        }, cancellationToken).ConfigureAwait(false);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var collector = new BulkCollector(run, _resultCodec);
        var channel = Channel.CreateUnbounded<BulkResult<TResult>>(new UnboundedChannelOptions { SingleReader = true });
        var publisher = Task.Run(() => PublishAllAsync(js, run, records, collector, stop.Token), CancellationToken.None);
        var pump = Task.Run(() => collector.PumpAsync(consumer, channel.Writer, publisher, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var result in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return result;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(publisher, pump).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            await CleanUpAsync(js, consumerName, subject).ConfigureAwait(false);
        }
    }

    private async Task PublishAllAsync(
        INatsJSContext js, BulkRun<TRecord, TResult> run, IEnumerable<TRecord> records, BulkCollector collector, CancellationToken token)
    {
        using var window = new SemaphoreSlim(_options.MaxPendingPublishes, _options.MaxPendingPublishes);
        Exception? failure = null;
        long count = 0;
        foreach (var record in records)
        {
            await window.WaitAsync(token).ConfigureAwait(false);
            if (Volatile.Read(ref failure) is { } error)
            {
                throw error;
            }

            long index = count++;
            _ = PublishOneAsync(js, run, record, index, token).ContinueWith(
                (task, state) =>
                {
                    if (task.Exception is { } e)
                    {
                        Interlocked.CompareExchange(ref failure, e.InnerException ?? e, null);
                    }

                    ((SemaphoreSlim)state!).Release();
                },
                window,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        for (int i = 0; i < _options.MaxPendingPublishes; i++)
        {
            await window.WaitAsync(token).ConfigureAwait(false);
        }

        if (Volatile.Read(ref failure) is { } last)
        {
            throw last;
        }

        collector.SetTotal(count);
    }

    private async Task PublishOneAsync(INatsJSContext js, BulkRun<TRecord, TResult> run, TRecord record, long index, CancellationToken token)
    {
        string indexText = index.ToString(CultureInfo.InvariantCulture);
        var opts = new NatsJSPubOpts { MsgId = $"{run.JobId}-{indexText}" };
        long giveUp = Environment.TickCount64 + (long)_options.Timeout.TotalMilliseconds;
        while (true)
        {
            try
            {
                var headers = new NatsHeaders { [WireHeaders.Job] = run.JobId, [WireHeaders.Index] = indexText };
                var ack = await js.PublishAsync(_topology.WorkSubject, record, _recordSerializer, opts, headers, token).ConfigureAwait(false);
                // A duplicate is a retry of a publish the stream had already taken (same message id): fine.
                if (ack.Error is { } error)
                {
                    throw new InvalidOperationException($"The work-queue stream '{_topology.WorkStream}' refused record {index}: {error.Description} (code {error.ErrCode}).");
                }

                run.AddPublished();
                return;
            }
            catch (Exception error) when (error is NatsException && !token.IsCancellationRequested && Environment.TickCount64 < giveUp)
            {
                // The server is away (restarting) or did not confirm in time: publish again with the same id.
                await Task.Delay(PublishRetryPause, token).ConfigureAwait(false);
            }
        }
    }

    private async Task CleanUpAsync(INatsJSContext js, string consumerName, string subject)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await js.DeleteConsumerAsync(_topology.ResultsStream, consumerName, timeout.Token).ConfigureAwait(false);
            await js.PurgeStreamAsync(_topology.ResultsStream, new StreamPurgeRequest { Filter = subject }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: the consumer expires by itself (InactiveThreshold) and the results by ResultRetention.
        }
    }

    private async Task<INatsJSContext> JetStreamAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _js) is { } ready)
        {
            return ready;
        }

        await _setup.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_js is null)
            {
                await _connection.ConnectAsync().ConfigureAwait(false);
                var js = new NatsJSContext(_connection);
                await _topology.EnsureStreamsAsync(js, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _js, js);
            }

            return _js!;
        }
        finally
        {
            _setup.Release();
        }
    }

    private async Task<TimeSpan> PauseAsync(TimeSpan delay, long deadline, CancellationToken cancellationToken)
    {
        long remaining = deadline - Environment.TickCount64;
        var pause = TimeSpan.FromMilliseconds(Math.Max(0, Math.Min(remaining, (long)delay.TotalMilliseconds)));
        if (pause > TimeSpan.Zero)
        {
            await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
        }

        var next = delay * 2;
        return next > _options.MaxRetryDelay ? _options.MaxRetryDelay : next;
    }

    internal static string? Header(NatsHeaders? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value) ? value.ToString() : null;

    /// <summary>Reads a run's results, keeps one outcome per record, and knows when every record has one.</summary>
    private sealed class BulkCollector(BulkRun<TRecord, TResult> run, IBatcherCodec<TResult> codec)
    {
        private readonly Lock _lock = new();
        private readonly HashSet<long> _seen = [];
        private readonly CancellationTokenSource _complete = new();
        private long _total = -1;

        public void SetTotal(long total)
        {
            run.SetTotal(total);
            lock (_lock)
            {
                _total = total;
                if (_seen.Count == total)
                {
                    _complete.Cancel();
                }
            }
        }

        public async Task PumpAsync(INatsJSConsumer consumer, ChannelWriter<BulkResult<TResult>> writer, Task publisher, CancellationToken token)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, _complete.Token);
            _ = publisher.ContinueWith(
                task => { if (task.IsFaulted || task.IsCanceled) { writer.TryComplete(task.Exception?.InnerException ?? new OperationCanceledException(token)); } },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            try
            {
                // Short pulls with frequent heartbeats: after a server restart the next pull goes out within seconds.
                var opts = new NatsJSConsumeOpts { MaxMsgs = 1_000, Expires = TimeSpan.FromSeconds(4), IdleHeartbeat = TimeSpan.FromSeconds(1) };
                await foreach (var msg in consumer.ConsumeAsync<byte[]>(opts: opts, cancellationToken: linked.Token).ConfigureAwait(false))
                {
                    await msg.AckAsync(cancellationToken: token).ConfigureAwait(false);
                    if (Accept(msg) is { } result)
                    {
                        writer.TryWrite(result);
                    }
                }
            }
            catch (OperationCanceledException) when (_complete.IsCancellationRequested)
            {
            }
            catch (Exception error)
            {
                writer.TryComplete(error);
                return;
            }

            writer.TryComplete(token.IsCancellationRequested && !IsComplete ? new OperationCanceledException(token) : null);
        }

        private bool IsComplete
        {
            get
            {
                lock (_lock)
                {
                    return _total >= 0 && _seen.Count == _total;
                }
            }
        }

        private BulkResult<TResult>? Accept(INatsJSMsg<byte[]> msg)
        {
            if (!long.TryParse(Header(msg.Headers, WireHeaders.Index), NumberStyles.None, CultureInfo.InvariantCulture, out long index))
            {
                return null;
            }

            lock (_lock)
            {
                if (!_seen.Add(index))
                {
                    run.AddDuplicate();
                    return null;
                }
            }

            string? worker = Header(msg.Headers, WireHeaders.Worker);
            int delivery = int.TryParse(Header(msg.Headers, WireHeaders.Delivery), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : 1;
            string status = Header(msg.Headers, WireHeaders.Status) ?? "";
            BulkResult<TResult> result;
            if (status == WireHeaders.StatusOk)
            {
                try
                {
                    result = new(index, codec.Decode(new ReadOnlySequence<byte>(msg.Data ?? [])), null, worker, delivery);
                }
                catch (FormatException error)
                {
                    result = new(index, default, error, worker, delivery);
                }
            }
            else
            {
                var error = new RemoteBatcherException(
                    Header(msg.Headers, WireHeaders.Error) ?? $"The worker answered '{status}' without a message.",
                    status == WireHeaders.StatusBadRequest ? WireHeaders.StatusBadRequest : WireHeaders.StatusError,
                    worker);
                result = new(index, default, error, worker, delivery);
            }

            run.AddReceived(delivery > 1, !result.IsSuccess);
            lock (_lock)
            {
                if (_seen.Count == _total)
                {
                    _complete.Cancel();
                }
            }

            return result;
        }
    }
}
