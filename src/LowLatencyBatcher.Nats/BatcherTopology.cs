using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace LowLatencyBatcher.Nats;

/// <summary>The subjects, streams and consumer of one service, derived from its options, and their creation.</summary>
internal sealed class BatcherTopology
{
    public BatcherTopology(NatsBatcherOptions options)
    {
        string root = $"{options.SubjectPrefix}.{options.Service}";
        string stream = $"{options.SubjectPrefix}_{options.Service}".ToUpperInvariant().Replace('-', '_');
        OnlineSubject = $"{root}.submit";
        QueueGroup = $"{root}.workers";
        WorkSubject = $"{root}.work";
        ResultsRoot = $"{root}.results";
        DeadLetterSubject = $"{root}.dead";
        WorkStream = $"{stream}_WORK";
        ResultsStream = $"{stream}_RESULTS";
        WorkConsumer = "workers";
        ResultRetention = options.ResultRetention;
    }

    /// <summary>Online requests (request-reply).</summary>
    public string OnlineSubject { get; }

    /// <summary>The workers' queue group on <see cref="OnlineSubject"/>.</summary>
    public string QueueGroup { get; }

    /// <summary>Durable records (the work-queue stream's subject).</summary>
    public string WorkSubject { get; }

    /// <summary>Results are published to <c>ResultsRoot.{job}</c>.</summary>
    public string ResultsRoot { get; }

    /// <summary>Dead letters (kept in the results stream).</summary>
    public string DeadLetterSubject { get; }

    /// <summary>The work-queue stream.</summary>
    public string WorkStream { get; }

    /// <summary>The results stream (results and dead letters).</summary>
    public string ResultsStream { get; }

    /// <summary>The durable pull consumer all workers share.</summary>
    public string WorkConsumer { get; }

    private TimeSpan ResultRetention { get; }

    /// <summary>The subject of a run's results.</summary>
    public string ResultsSubject(string job) => $"{ResultsRoot}.{job}";

    /// <summary>Creates both streams, or checks and updates them when they exist.</summary>
    public async Task EnsureStreamsAsync(INatsJSContext js, CancellationToken cancellationToken)
    {
        await EnsureStreamAsync(js, new StreamConfig(WorkStream, [WorkSubject])
        {
            Retention = StreamConfigRetention.Workqueue,
            Storage = StreamConfigStorage.File,
            DuplicateWindow = TimeSpan.FromMinutes(2),
        }, cancellationToken).ConfigureAwait(false);
        await EnsureStreamAsync(js, new StreamConfig(ResultsStream, [$"{ResultsRoot}.*", DeadLetterSubject])
        {
            Retention = StreamConfigRetention.Limits,
            Storage = StreamConfigStorage.File,
            MaxAge = ResultRetention,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates or updates the workers' shared pull consumer.</summary>
    public Task<INatsJSConsumer> EnsureWorkConsumerAsync(
        INatsJSContext js, BatcherWorkerOptions options, CancellationToken cancellationToken) =>
        Describe($"consumer '{WorkConsumer}' of stream '{WorkStream}'", async () =>
            await js.CreateOrUpdateConsumerAsync(WorkStream, new ConsumerConfig(WorkConsumer)
            {
                AckPolicy = ConsumerConfigAckPolicy.Explicit,
                AckWait = options.AckWait,
                // Redelivery is never refused by the server: the worker itself gives a record up at MaxDeliver, with
                // an error result and a dead letter, so a client always hears of every record.
                MaxDeliver = -1,
                MaxAckPending = -1,
                MaxWaiting = 512,
            }, cancellationToken).ConfigureAwait(false));

    private static Task EnsureStreamAsync(INatsJSContext js, StreamConfig config, CancellationToken cancellationToken) =>
        Describe($"stream '{config.Name}'", async () =>
            await js.CreateOrUpdateStreamAsync(config, cancellationToken).ConfigureAwait(false));

    private static async Task<T> Describe<T>(string what, Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (NatsJSApiException error)
        {
            throw new InvalidOperationException(
                $"NATS JetStream refused to create or update {what}: {error.Error.Description} (code {error.Error.ErrCode}). "
                + "Is the server started with JetStream (nats-server -js), and does an existing stream of this name have another configuration?",
                error);
        }
    }
}
