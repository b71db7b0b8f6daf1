using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Hosting.Tests;

public sealed class OptionsTests
{
    [Fact]
    public async Task Options_bind_from_a_configuration_section_and_shape_the_batches()
    {
        var gate = new GatedLengths();
        gate.Open();
        var builder = TestHosts.Builder(new Dictionary<string, string?>
        {
            ["Batcher:MaxBatchSize"] = "3",
            ["Batcher:MinBatchSize"] = "3",
            ["Batcher:BatchTimeout"] = "00:05:00",
            ["Batcher:TargetBatchTokens"] = "1000",
            ["Batcher:MaxQueueSize"] = "64",
            ["Batcher:Workers"] = "2",
            ["Batcher:PinPackingThread"] = "false",
        });
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get("String");
        Assert.Equal(3, options.MaxBatchSize);
        Assert.Equal(3, options.MinBatchSize);
        Assert.Equal(TimeSpan.FromMinutes(5), options.BatchTimeout);
        Assert.Equal(1000, options.TargetBatchTokens);
        Assert.Equal(64, options.MaxQueueSize);
        Assert.Equal(2, options.Workers);
        Assert.False(options.PinPackingThread);
        Assert.Equal(new DynamicBatcherOptions<string>().PrefetchBatches, options.PrefetchBatches); // unbound: the core's default

        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        // Wait-to-fill batching (MinBatchSize = MaxBatchSize) with a five-minute timeout: only full batches can go.
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([3, 3], gate.BatchSizes);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public void Options_convert_to_the_core_options()
    {
        var options = new BatcherOptions { TargetBatchCost = 10, MaxBatchSize = 4, BatchTimeout = TimeSpan.FromMilliseconds(3), Workers = 3 };
        var observer = new BatcherMetrics("x");
        var core = options.ToDynamicBatcherOptions<string>(observer, TimeProvider.System);
        Assert.Equal((10, 4, TimeSpan.FromMilliseconds(3), 3), (core.TargetBatchCost, core.MaxBatchSize, core.BatchTimeout, core.Workers));
        Assert.Same(observer, core.Observer);

        var token = new BatcherOptions { TargetBatchTokens = 99, DefaultTokenEstimate = 7 }.ToTokenBatcherOptions<string>();
        Assert.Equal((99, 7), (token.TargetBatchTokens, token.DefaultTokenEstimate));
        Assert.Same(TimeProvider.System, token.TimeProvider);
        observer.Dispose();
    }

    [Theory]
    [InlineData("MaxBatchSize", "0", "MaxBatchSize must be at least 1")]
    [InlineData("MinBatchSize", "300", "MinBatchSize must not exceed MaxBatchSize (256)")]
    [InlineData("BatchTimeout", "00:00:00", "BatchTimeout must be positive")]
    [InlineData("Workers", "0", "Workers must be between 1 and")]
    [InlineData("MaxQueueSize", "-5", "MaxQueueSize must be between 1 and")]
    [InlineData("TargetBatchTokens", "0", "TargetBatchTokens must be at least 1")]
    public async Task A_bad_value_stops_the_start_with_a_message_naming_the_batcher_and_the_option(string key, string value, string expected)
    {
        var builder = TestHosts.Builder(new Dictionary<string, string?> { [$"Embedder:{key}"] = value });
        builder.Services.AddTokenBatcher<string, int>(_ => (_, _) => default, name: "embedder").BindConfiguration("Embedder");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WaitAsync(TestHosts.Bound));
        Assert.StartsWith("Batcher 'embedder': ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public async Task Token_only_options_are_refused_for_a_dynamic_batcher()
    {
        var builder = TestHosts.Builder();
        builder.Services.AddDynamicBatcher<string, int>(_ => (_, _) => default).Configure(o => o.TargetBatchTokens = 100);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WaitAsync(TestHosts.Bound));
        Assert.Contains("TargetBatchTokens applies to token batchers only; set TargetBatchCost", error.Message);
    }
}
