using System.Net;
using LowLatencyBatcher.Torch;
using Microsoft.Extensions.DependencyInjection;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The server on a real Kestrel socket on 127.0.0.1 (an ephemeral port).</summary>
public sealed class KestrelTests
{
    private static readonly string[] Args =
    [
        "--urls", "http://127.0.0.1:0",
        "--model", "demo",
        "--Embeddings:Device=cpu",
        "--Batcher:PinPackingThread=false",
        "--Logging:LogLevel:Default=Warning",
    ];

    [Fact]
    public async Task The_server_answers_over_a_real_socket_with_the_demo_model()
    {
        await using var app = EmbeddingsServer.Build(Args);
        await app.StartAsync().WaitAsync(ServerFactory.Bound);
        try
        {
            var address = new Uri(Assert.Single(app.Urls));
            Assert.Equal("127.0.0.1", address.Host);
            Assert.NotEqual(0, address.Port);
            using var client = new HttpClient { BaseAddress = address, Timeout = ServerFactory.Bound };

            using var health = await client.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

            using var response = await client.EmbedAsync(new { input = new[] { "over a real socket", "twice" } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.JsonAsync();
            Assert.Equal(2, body.GetProperty("data").GetArrayLength());
            Assert.Equal(128, body.Embedding(1).Length);
            Assert.Equal(5, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        }
        finally
        {
            await app.StopAsync().WaitAsync(ServerFactory.Bound);
        }

        Assert.False(app.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>().IsRunning);
    }

    [Fact]
    public async Task Shutdown_lets_a_request_in_flight_finish_and_then_drains_the_batcher()
    {
        var model = new GatedModel();
        await using var app = EmbeddingsServer.Build(Args, builder =>
            builder.Services.AddSingleton<ProcessFn<TokenSequence, float[]>>(model.ProcessAsync));
        await app.StartAsync().WaitAsync(ServerFactory.Bound);
        var batcher = app.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = ServerFactory.Bound };

        var inFlight = client.EmbedAsync(new { input = "still answered" });
        Assert.True(SpinWait.SpinUntil(() => model.Entered == 1, ServerFactory.Bound), "the request reaches the model");

        var stopping = app.StopAsync();
        Assert.False(inFlight.IsCompleted);
        model.Open();

        using var response = await inFlight.WaitAsync(ServerFactory.Bound);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2f, (await response.JsonAsync()).Embedding(0)[0]); // the stand-in model's token count
        await stopping.WaitAsync(ServerFactory.Bound);
        Assert.False(batcher.IsRunning);
        Assert.Equal(1, batcher.Stats.TotalCompleted);
        Assert.Equal(0, batcher.Stats.TotalCancelled);
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413_whether_its_length_is_declared_or_chunked()
    {
        var model = new GatedModel();
        model.Open();
        await using var app = EmbeddingsServer.Build([.. Args, "--Embeddings:MaxRequestBodyBytes=1000"], builder =>
            builder.Services.AddSingleton<ProcessFn<TokenSequence, float[]>>(model.ProcessAsync));
        await app.StartAsync().WaitAsync(ServerFactory.Bound);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = ServerFactory.Bound };
            string big = $"{{\"input\": \"{new string('w', 2000)}\"}}";

            using var declared = await client.EmbedRawAsync(big);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
            Assert.Equal("request_too_large", (await declared.JsonAsync()).GetProperty("code").GetString());

            var chunkedContent = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big)));
            chunkedContent.Headers.ContentType = new("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings") { Content = chunkedContent };
            request.Headers.TransferEncodingChunked = true;
            using var chunked = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);

            using var small = await client.EmbedAsync(new { input = "fits" });
            Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        }
        finally
        {
            await app.StopAsync().WaitAsync(ServerFactory.Bound);
        }
    }
}
