using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// Takes records from NATS, submits them to a local batcher and sends each result back. Two ways in: online
/// requests (request-reply on a subject with a queue group, so each request reaches one worker; a worker whose
/// batcher is full answers "busy" at once) and durable records (a JetStream work queue with a shared pull consumer:
/// the worker fetches only as many records as it has room for, publishes each result to the results stream and
/// acknowledges the record only after that, so a record whose worker died is delivered again after
/// <see cref="BatcherWorkerOptions.AckWait"/>).
/// </summary>
/// <remarks>
/// The worker does not start or stop the batcher: start the batcher first and stop it after the worker (the hosting
/// package's hosted service and <see cref="NatsBatcherServiceCollectionExtensions.AddBatcherWorker{TRecord, TResult}(Microsoft.Extensions.DependencyInjection.IServiceCollection)"/>
/// do this in the right order). A malformed message never stops the worker: an online one is answered with a
/// <see cref="WireHeaders.StatusBadRequest"/> reply, a durable one with such a result, or a dead letter when it
/// cannot even be answered.
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public sealed class BatcherWorker<TRecord, TResult> : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PutBackDelay = TimeSpan.FromMilliseconds(50);

    private readonly DynamicBatcher<TRecord, TResult> _batcher;
    private readonly BatcherWorkerOptions _options;
    private readonly IBatcherCodec<TRecord> _recordCodec;
    private readonly IBatcherCodec<TResult> _resultCodec;
    private readonly CodecSerializer<TResult> _resultSerializer;
    private readonly ILogger _logger;
    private readonly BatcherTopology _topology;
    private readonly INatsConnection _connection;
    private readonly bool _ownsConnection;
    private readonly SemaphoreSlim _room;
    private readonly BatcherWorkerMetrics _metrics;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource? _drained;
    private INatsSub<byte[]>? _subscription;
    private Task _onlineLoop = Task.CompletedTask;
    private Task _durableLoop = Task.CompletedTask;
    private INatsJSContext? _js;
    private int _inFlight;
    private int _state; // 0 created, 1 started, 2 stopped
    private long _onlineRequests, _busy, _durableRecords, _redelivered, _putBack, _results, _failed, _malformed, _deadLettered;

    /// <summary>Creates a worker in front of <paramref name="batcher"/>.</summary>
    /// <param name="batcher">The local batcher; started and stopped by its owner.</param>
    /// <param name="options">The worker's options; checked here.</param>
    /// <param name="recordCodec">How records are read (System.Text.Json when null).</param>
    /// <param name="resultCodec">How results are written (System.Text.Json when null).</param>
    /// <param name="logger">Where problems are logged.</param>
    /// <param name="connection">A NATS connection to use (not disposed by the worker); when null the worker opens its own to <see cref="NatsBatcherOptions.Url"/>.</param>
    /// <param name="meterFactory">Creates the meter of the worker's metrics (<see cref="BatcherWorkerMetrics"/>); when null a meter of its own.</param>
    /// <exception cref="ArgumentException">An option breaks its rule; the message names it.</exception>
    public BatcherWorker(
        DynamicBatcher<TRecord, TResult> batcher,
        BatcherWorkerOptions options,
        IBatcherCodec<TRecord>? recordCodec = null,
        IBatcherCodec<TResult>? resultCodec = null,
        ILogger? logger = null,
        INatsConnection? connection = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        _batcher = batcher;
        _options = options;
        _recordCodec = recordCodec ?? new JsonBatcherCodec<TRecord>();
        _resultCodec = resultCodec ?? new JsonBatcherCodec<TResult>();
        _resultSerializer = new CodecSerializer<TResult>(_resultCodec);
        _logger = logger ?? NullLogger.Instance;
        _topology = new BatcherTopology(options);
        WorkerId = options.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        _room = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        _metrics = new BatcherWorkerMetrics(WorkerId, () => Counts, meterFactory);
        if (connection is null)
        {
            _connection = new NatsConnection(new NatsOpts { Url = options.Url, Name = $"llb-worker-{WorkerId}" });
            _ownsConnection = true;
        }
        else
        {
            _connection = connection;
        }
    }

    /// <summary>This worker's name in results and logs.</summary>
    public string WorkerId { get; }

    /// <summary>What the worker has done since it started.</summary>
    public WorkerCounts Counts => new()
    {
        OnlineRequests = Interlocked.Read(ref _onlineRequests),
        Busy = Interlocked.Read(ref _busy),
        DurableRecords = Interlocked.Read(ref _durableRecords),
        Redelivered = Interlocked.Read(ref _redelivered),
        PutBack = Interlocked.Read(ref _putBack),
        Results = Interlocked.Read(ref _results),
        Failed = Interlocked.Read(ref _failed),
        Malformed = Interlocked.Read(ref _malformed),
        DeadLettered = Interlocked.Read(ref _deadLettered),
    };

    /// <summary>
    /// Connects, creates the streams and the shared consumer when they are missing (durable path), subscribes to the
    /// online subject (online path) and starts taking records.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">It was started before, or JetStream refused a stream or the consumer.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The worker was already started; create a new one.");
        }

        await _connection.ConnectAsync().ConfigureAwait(false);
        if (_options.Durable)
        {
            _js = new NatsJSContext(_connection);
            await _topology.EnsureStreamsAsync(_js, cancellationToken).ConfigureAwait(false);
            var consumer = await _topology.EnsureWorkConsumerAsync(_js, _options, cancellationToken).ConfigureAwait(false);
            _durableLoop = Task.Run(() => DurableLoopAsync(consumer), CancellationToken.None);
        }

        if (_options.Online)
        {
            _subscription = await _connection.SubscribeCoreAsync<byte[]>(
                _topology.OnlineSubject, _topology.QueueGroup, cancellationToken: cancellationToken).ConfigureAwait(false);
            _onlineLoop = Task.Run(() => OnlineLoopAsync(_subscription), CancellationToken.None);
        }

        _logger.LogInformation(
            "Batcher worker {Worker} started: online {Online} on '{Subject}', durable {Durable} from stream '{Stream}'",
            WorkerId, _options.Online, _topology.OnlineSubject, _options.Durable, _topology.WorkStream);
    }

    /// <summary>
    /// Stops taking records, then waits (up to <see cref="BatcherWorkerOptions.DrainTimeout"/> or until
    /// <paramref name="cancellationToken"/>) for those in flight to be answered and acknowledged. Durable records not
    /// answered by then are delivered again to another worker after <see cref="BatcherWorkerOptions.AckWait"/>.
    /// </summary>
    /// <param name="cancellationToken">Ends the wait early.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_subscription is { } subscription)
        {
            await subscription.UnsubscribeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_onlineLoop, _durableLoop).ConfigureAwait(false);
        Task drained;
        lock (_lock)
        {
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inFlight == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        try
        {
            await drained.WaitAsync(_options.DrainTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is TimeoutException or OperationCanceledException)
        {
            _logger.LogWarning(
                "Batcher worker {Worker} stopped with {Count} record(s) unanswered; durable ones will be delivered again after AckWait",
                WorkerId, Volatile.Read(ref _inFlight));
        }

        await _abort.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the worker if it runs and closes its own connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_ownsConnection)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _metrics.Dispose();
        _stopping.Dispose();
        _abort.Dispose();
    }

    private async Task OnlineLoopAsync(INatsSub<byte[]> subscription)
    {
        try
        {
            await foreach (var msg in subscription.Msgs.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                Enter();
                _ = HandleRequestAsync(msg);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Reads a message's record (<paramref name="payload"/>) with the record codec; a payload it cannot read is counted as malformed and its reason
    /// given in one line (the online and the durable path each answer it their own way).
    /// </summary>
    private bool TryDecode(byte[]? payload, out TRecord record, [NotNullWhen(false)] out string? malformed)
    {
        try
        {
            record = _recordCodec.Decode(new ReadOnlySequence<byte>(payload ?? []));
            malformed = null;
            return true;
        }
        catch (Exception error)
        {
            Interlocked.Increment(ref _malformed);
            record = default!;
            malformed = OneLine(error.Message);
            return false;
        }
    }

    private async Task HandleRequestAsync(NatsMsg<byte[]> msg)
    {
        // Off the reading loop at once: an idle batcher may run a lone record on its submitter's thread, and the
        // loop must go on reading the requests that will share the next batch.
        await Task.Yield();
        try
        {
            Interlocked.Increment(ref _onlineRequests);
            if (string.IsNullOrEmpty(msg.ReplyTo))
            {
                Interlocked.Increment(ref _malformed);
                _logger.LogWarning("Batcher worker {Worker}: a request on '{Subject}' without a reply subject was ignored", WorkerId, msg.Subject);
                return;
            }

            if (!TryDecode(msg.Data, out TRecord record, out string? malformed))
            {
                await ReplyStatusAsync(msg.ReplyTo, WireHeaders.StatusBadRequest, malformed).ConfigureAwait(false);
                return;
            }

            var submit = new SubmitOptions { Timeout = ReadTimeout(msg.Headers) };
            ValueTask<TResult> pending;
            try
            {
                if (!_batcher.TrySubmit(record, submit, out pending))
                {
                    Interlocked.Increment(ref _busy);
                    await ReplyStatusAsync(msg.ReplyTo, WireHeaders.StatusBusy, "the batcher's queue is full").ConfigureAwait(false);
                    return;
                }
            }
            catch (InvalidOperationException error)
            {
                // QueueFullException, or a batcher that is not running (starting or stopping): another worker may take it.
                Interlocked.Increment(ref _busy);
                await ReplyStatusAsync(msg.ReplyTo, WireHeaders.StatusBusy, OneLine(error.Message)).ConfigureAwait(false);
                return;
            }
            catch (ArgumentException error)
            {
                Interlocked.Increment(ref _malformed);
                await ReplyStatusAsync(msg.ReplyTo, WireHeaders.StatusBadRequest, OneLine(error.Message)).ConfigureAwait(false);
                return;
            }

            TResult result;
            try
            {
                result = await pending.ConfigureAwait(false);
            }
            catch (Exception error)
            {
                Interlocked.Increment(ref _failed);
                await ReplyStatusAsync(msg.ReplyTo, WireHeaders.StatusError, Describe(error)).ConfigureAwait(false);
                return;
            }

            var headers = new NatsHeaders { [WireHeaders.Status] = WireHeaders.StatusOk, [WireHeaders.Worker] = WorkerId };
            await _connection.PublishAsync(msg.ReplyTo, result, headers, serializer: _resultSerializer, cancellationToken: _abort.Token)
                .ConfigureAwait(false);
            Interlocked.Increment(ref _results);
        }
        catch (Exception error)
        {
            // The reply could not be sent (the connection is down, the result could not be encoded): the client's
            // request times out and it tries again.
            _logger.LogWarning(error, "Batcher worker {Worker} could not answer a request on '{Subject}'", WorkerId, msg.Subject);
        }
        finally
        {
            Exit();
        }
    }

    private async Task ReplyStatusAsync(string replyTo, string status, string message)
    {
        var headers = new NatsHeaders
        {
            [WireHeaders.Status] = status,
            [WireHeaders.Error] = message,
            [WireHeaders.Worker] = WorkerId,
        };
        await _connection.PublishAsync(replyTo, headers: headers, cancellationToken: _abort.Token).ConfigureAwait(false);
        Interlocked.Increment(ref _results);
    }

    private async Task DurableLoopAsync(INatsJSConsumer consumer)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            int room;
            try
            {
                room = await TakeRoomAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            int received = 0;
            try
            {
                var fetch = new NatsJSFetchOpts { MaxMsgs = room, Expires = _options.FetchExpiry };
                await foreach (var msg in consumer.FetchAsync<byte[]>(fetch, cancellationToken: token).ConfigureAwait(false))
                {
                    received++;
                    Enter();
                    _ = HandleWorkAsync(msg);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception error)
            {
                // The server went away or restarted: wait, then ask again (the connection reconnects by itself).
                _logger.LogWarning("Batcher worker {Worker}: fetching from '{Stream}' failed ({Error}); trying again", WorkerId, _topology.WorkStream, OneLine(error.Message));
                await PauseAsync(token).ConfigureAwait(false);
                consumer = await RefreshConsumerAsync(consumer, token).ConfigureAwait(false);
            }
            finally
            {
                if (room > received)
                {
                    _room.Release(room - received);
                }
            }
        }
    }

    private async Task<INatsJSConsumer> RefreshConsumerAsync(INatsJSConsumer consumer, CancellationToken token)
    {
        try
        {
            return await _topology.EnsureWorkConsumerAsync(_js!, _options, token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Still away: the next fetch fails and this runs again.
            return consumer;
        }
    }

    private async Task<int> TakeRoomAsync(CancellationToken token)
    {
        await _room.WaitAsync(token).ConfigureAwait(false);
        int room = 1;
        while (room < _options.FetchBatch && _room.Wait(0, CancellationToken.None))
        {
            room++;
        }

        return room;
    }

    private async Task HandleWorkAsync(INatsJSMsg<byte[]> msg)
    {
        await Task.Yield(); // off the fetch loop, as for online requests
        try
        {
            Interlocked.Increment(ref _durableRecords);
            var headers = msg.Headers;
            string? job = headers is not null && headers.TryGetValue(WireHeaders.Job, out var j) ? j.ToString() : null;
            string? index = headers is not null && headers.TryGetValue(WireHeaders.Index, out var i) ? i.ToString() : null;
            if (!IsJob(job) || !long.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                Interlocked.Increment(ref _malformed);
                await DeadLetterAsync(msg, $"a record without a valid {WireHeaders.Job} (letters and digits) and {WireHeaders.Index} (a non-negative integer) header cannot be answered").ConfigureAwait(false);
                await msg.AckTerminateAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
                return;
            }

            long delivery = (long)(msg.Metadata?.NumDelivered ?? 1);
            if (delivery > 1)
            {
                Interlocked.Increment(ref _redelivered);
            }

            string resultsSubject = _topology.ResultsSubject(job!);
            if (delivery >= _options.MaxDeliver)
            {
                string reason = $"the record was delivered {delivery} times (MaxDeliver {_options.MaxDeliver}) without being answered; its workers may have died on it";
                Interlocked.Increment(ref _failed);
                await PublishStatusAsync(resultsSubject, job!, index!, delivery, WireHeaders.StatusError, reason).ConfigureAwait(false);
                await DeadLetterAsync(msg, reason).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
                return;
            }

            if (!TryDecode(msg.Data, out TRecord record, out string? malformed))
            {
                await PublishStatusAsync(resultsSubject, job!, index!, delivery, WireHeaders.StatusBadRequest, malformed).ConfigureAwait(false);
                await DeadLetterAsync(msg, malformed).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
                return;
            }

            ValueTask<TResult> pending;
            try
            {
                if (!_batcher.TrySubmit(record, default, out pending))
                {
                    // Online requests took the room meanwhile: back to the stream, for this or another worker.
                    Interlocked.Increment(ref _putBack);
                    await msg.NakAsync(new AckOpts { NakDelay = PutBackDelay }, _abort.Token).ConfigureAwait(false);
                    return;
                }
            }
            catch (ArgumentException error)
            {
                Interlocked.Increment(ref _malformed);
                await PublishStatusAsync(resultsSubject, job!, index!, delivery, WireHeaders.StatusBadRequest, OneLine(error.Message)).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException)
            {
                Interlocked.Increment(ref _putBack);
                await msg.NakAsync(new AckOpts { NakDelay = PutBackDelay }, _abort.Token).ConfigureAwait(false);
                return;
            }

            TResult result;
            try
            {
                result = await pending.ConfigureAwait(false);
            }
            catch (Exception error)
            {
                Interlocked.Increment(ref _failed);
                await PublishStatusAsync(resultsSubject, job!, index!, delivery, WireHeaders.StatusError, Describe(error)).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
                return;
            }

            var resultHeaders = ResultHeaders(job!, index!, delivery, WireHeaders.StatusOk);
            await PublishDurableAsync(resultsSubject, result, _resultSerializer, resultHeaders).ConfigureAwait(false);
            await msg.AckAsync(cancellationToken: _abort.Token).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            // Not acknowledged: the record is delivered again after AckWait.
            _logger.LogWarning("Batcher worker {Worker}: a durable record was not answered ({Error}); it will be delivered again", WorkerId, OneLine(error.Message));
        }
        finally
        {
            _room.Release();
            Exit();
        }
    }

    private NatsHeaders ResultHeaders(string job, string index, long delivery, string status) => new()
    {
        [WireHeaders.Status] = status,
        [WireHeaders.Job] = job,
        [WireHeaders.Index] = index,
        [WireHeaders.Delivery] = delivery.ToString(CultureInfo.InvariantCulture),
        [WireHeaders.Worker] = WorkerId,
    };

    private Task PublishStatusAsync(string subject, string job, string index, long delivery, string status, string message)
    {
        var headers = ResultHeaders(job, index, delivery, status);
        headers[WireHeaders.Error] = message;
        return PublishDurableAsync<byte[]>(subject, [], null, headers);
    }

    private async Task DeadLetterAsync(INatsJSMsg<byte[]> msg, string reason)
    {
        var headers = new NatsHeaders();
        if (msg.Headers is { } original)
        {
            foreach (var (key, value) in original)
            {
                if (!key.StartsWith("Nats-", StringComparison.OrdinalIgnoreCase))
                {
                    headers[key] = value;
                }
            }
        }

        headers[WireHeaders.Error] = reason;
        headers[WireHeaders.Worker] = WorkerId;
        await PublishDurableAsync(_topology.DeadLetterSubject, msg.Data ?? [], null, headers).ConfigureAwait(false);
        Interlocked.Increment(ref _deadLettered);
        _logger.LogWarning("Batcher worker {Worker} dead-lettered a record to '{Subject}': {Reason}", WorkerId, _topology.DeadLetterSubject, reason);
    }

    /// <summary>Publishes to the results stream and waits for the stream's confirmation, trying again while the server is away.</summary>
    private async Task PublishDurableAsync<T>(string subject, T data, INatsSerialize<T>? serializer, NatsHeaders headers)
    {
        var giveUp = DateTime.UtcNow + _options.AckWait;
        while (true)
        {
            try
            {
                var ack = await _js!.PublishAsync(subject, data, serializer, headers: headers, cancellationToken: _abort.Token).ConfigureAwait(false);
                ack.EnsureSuccess();
                if (subject != _topology.DeadLetterSubject)
                {
                    Interlocked.Increment(ref _results);
                }

                return;
            }
            catch (Exception error) when (error is not OperationCanceledException && DateTime.UtcNow < giveUp)
            {
                // After AckWait the record goes to another worker anyway; until then keep trying.
                await Task.Delay(RetryPause, _abort.Token).ConfigureAwait(false);
            }
        }
    }

    private async Task PauseAsync(CancellationToken token)
    {
        try
        {
            await Task.Delay(RetryPause, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Enter() => Interlocked.Increment(ref _inFlight);

    private void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            lock (_lock)
            {
                if (_inFlight == 0)
                {
                    _drained?.TrySetResult();
                }
            }
        }
    }

    private static TimeSpan? ReadTimeout(NatsHeaders? headers)
    {
        if (headers is not null && headers.TryGetValue(WireHeaders.TimeoutMs, out var value)
            && long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out long ms) && ms > 0)
        {
            return TimeSpan.FromMilliseconds(Math.Min(ms, (long)TimeSpan.FromDays(1).TotalMilliseconds));
        }

        return null;
    }

    private static bool IsJob(string? job) =>
        !string.IsNullOrEmpty(job) && job.Length <= 64 && job.All(char.IsAsciiLetterOrDigit);

    private static string Describe(Exception error) => OneLine($"{error.GetType().Name}: {error.Message}");

    private static string OneLine(string message)
    {
        // Header values are one line; a very long message is cut.
        string line = message.ReplaceLineEndings(" ").Trim();
        return line.Length > 500 ? line[..500] : line;
    }
}
