using System.Net;
using LowLatencyBatcher.Torch;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The server's batcher follows a reloaded configuration, within what its model runner was created for.</summary>
public sealed class ReconfigurationTests
{
    [Fact]
    public async Task The_batch_size_can_shrink_live_but_not_grow_past_the_model_runner_s_buffers()
    {
        var settings = new SettingsSource();
        await using var app = EmbeddingsServer.Build(
            ["--urls", "http://127.0.0.1:0", "--model", "demo", "--Embeddings:Device=cpu", "--Batcher:PinPackingThread=false", "--Logging:LogLevel:Default=Warning"],
            builder => ((IConfigurationBuilder)builder.Configuration).Add(settings));
        await app.StartAsync().WaitAsync(ServerFactory.Bound);
        try
        {
            var batcher = app.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = ServerFactory.Bound };

            // appsettings.json sizes the runner for 64 records: more is refused, and the monitor rethrows why.
            var refused = Assert.Throws<AggregateException>(() => settings.Change("Batcher:MaxBatchSize", "128"));
            var failure = Assert.IsType<OptionsValidationException>(Assert.Single(refused.Flatten().InnerExceptions));
            Assert.Contains("cannot grow past the batch size the model runner was created for", failure.Message);

            settings.Change("Batcher:MaxBatchSize", "4");
            using var response = await client.EmbedAsync(new { input = Enumerable.Range(0, 40).Select(i => $"input number {i}").ToArray() });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(40, (await response.JsonAsync()).GetProperty("data").GetArrayLength());
            BatchStats stats = batcher.Stats;
            Assert.Equal(40, stats.TotalCompleted);
            Assert.True(stats.TotalBatches >= 10, $"40 records in batches of at most 4 need at least 10 batches, not {stats.TotalBatches}");
        }
        finally
        {
            await app.StopAsync().WaitAsync(ServerFactory.Bound);
        }
    }

    /// <summary>A configuration source whose values the test changes and reloads, as an edited settings file would be.</summary>
    private sealed class SettingsSource : ConfigurationProvider, IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

        public void Change(string key, string value)
        {
            Data[key] = value;
            OnReload();
        }
    }
}
