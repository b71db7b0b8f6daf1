using System.Net;
using LowLatencyBatcher.Nats;
using LowLatencyBatcher.Nats.Tests;
using LowLatencyBatcher.Torch;
using Microsoft.Extensions.DependencyInjection;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The server as a gateway (<c>--workers nats://…</c>) in front of a server serving as a worker (<c>--serve-workers</c>), over a real nats-server.</summary>
public sealed class GatewayTests
{
    private static readonly string[] Args =
    [
        "--urls", "http://127.0.0.1:0",
        "--model", "demo", // the demo's word tokenizer: "through the gateway" is 3 tokens
        "--Embeddings:Device=cpu",
        "--Batcher:PinPackingThread=false",
        "--Logging:LogLevel:Default=Warning",
        "--Nats:Service=gateway-test",
    ];

    [Fact]
    public async Task A_gateway_answers_with_the_model_of_a_remote_worker()
    {
        await using var nats = await NatsServer.StartAsync();
        int calls = 0;
        ProcessFn<TokenSequence, float[]> model = (batch, _) =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult<IReadOnlyList<float[]>>(batch.Select(s => new float[] { s.Length, s.Ids.Span[0], 7f }).ToArray());
        };

        await using var worker = EmbeddingsServer.Build([.. Args, "--serve-workers", nats.Url], builder =>
            builder.Services.AddSingleton(model));
        await using var gateway = EmbeddingsServer.Build([.. Args, "--workers", nats.Url]);
        await worker.StartAsync().WaitAsync(ServerFactory.Bound);
        await gateway.StartAsync().WaitAsync(ServerFactory.Bound);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single()), Timeout = ServerFactory.Bound };
            using var response = await client.EmbedAsync(new { input = new[] { "through the gateway", "and back" } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.JsonAsync();
            Assert.Equal([3f, body.Embedding(0)[1], 7f], body.Embedding(0));
            Assert.Equal([2f, body.Embedding(1)[1], 7f], body.Embedding(1));
            Assert.True(calls >= 1, "the worker's model produced the embeddings");
            Assert.Equal(2, worker.Services.GetRequiredService<BatcherWorker<TokenSequence, float[]>>().Counts.OnlineRequests);
            Assert.Null(gateway.Services.GetService<BatcherWorker<TokenSequence, float[]>>());
        }
        finally
        {
            await gateway.StopAsync().WaitAsync(ServerFactory.Bound);
            await worker.StopAsync().WaitAsync(ServerFactory.Bound);
        }
    }
}
