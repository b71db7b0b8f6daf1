using LowLatencyBatcher.Nats;
using LowLatencyBatcher.Torch;

namespace LowLatencyBatcher.Server;

/// <summary>
/// The server in front of remote workers, or serving as one, over NATS (<c>docs/scale-out.md</c>):
/// <list type="bullet">
/// <item><c>--workers nats://host:4222</c> makes this server a gateway: its batcher's batches go, record by record, to
/// the workers of the service (online path: a full worker answers busy and the record is tried again elsewhere), and no
/// model is loaded here.</item>
/// <item><c>--serve-workers nats://host:4222</c> makes this server's batcher (and model) also a worker of the service.</item>
/// </list>
/// Both take the other options from the <c>Nats</c> section (for example <c>--Nats:Service=embed</c>,
/// <c>--Nats:Timeout=00:00:10</c>); records travel as token ids (4 bytes each), embeddings as float32 vectors.
/// </summary>
internal static class RemoteWorkers
{
    /// <summary>The key of the gateway's NATS address (<c>--workers</c>).</summary>
    public const string GatewayKey = "workers";

    /// <summary>The key of the worker's NATS address (<c>--serve-workers</c>).</summary>
    public const string WorkerKey = "serve-workers";

    /// <summary>The section of the other client and worker options.</summary>
    public const string Section = "Nats";

    /// <summary>Registers the gateway and/or the worker when their keys are set; nothing otherwise.</summary>
    /// <param name="builder">The application builder (after the server's own registrations).</param>
    public static void Add(WebApplicationBuilder builder)
    {
        string? gateway = builder.Configuration[GatewayKey];
        string? worker = builder.Configuration[WorkerKey];
        if (gateway is null && worker is null)
        {
            return;
        }

        builder.Services.AddSingleton<IBatcherCodec<TokenSequence>>(TokenSequenceCodec.Instance);
        builder.Services.AddSingleton<IBatcherCodec<float[]>>(Float32ArrayCodec.Instance);
        if (gateway is not null)
        {
            builder.Services.AddBatcherClient<TokenSequence, float[]>().BindConfiguration(Section).Configure(o => o.Url = gateway);
            // Registered after the server's model, so it replaces it: the gateway loads no model.
            builder.Services.AddSingleton<ProcessFn<TokenSequence, float[]>>(provider =>
            {
                var client = provider.GetRequiredService<BatcherClient<TokenSequence, float[]>>();
                return async (batch, cancellationToken) =>
                {
                    var pending = new Task<float[]>[batch.Count];
                    for (int i = 0; i < pending.Length; i++)
                    {
                        pending[i] = client.SubmitAsync(batch[i], cancellationToken);
                    }

                    return await Task.WhenAll(pending);
                };
            });
        }

        if (worker is not null)
        {
            builder.Services.AddBatcherWorker<TokenSequence, float[]>().BindConfiguration(Section).Configure(o => o.Url = worker);
        }
    }
}
