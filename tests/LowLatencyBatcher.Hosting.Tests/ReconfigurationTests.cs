using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Hosting.Tests;

public sealed class ReconfigurationTests
{
    // Wait-to-fill batching (MinBatchSize = MaxBatchSize) with a timeout that never passes: only full or
    // size-limited batches go, so the batch sizes show exactly which configuration packed them.
    private static Dictionary<string, string?> WaitToFill(int size) => new()
    {
        ["Batcher:MaxBatchSize"] = $"{size}",
        ["Batcher:MinBatchSize"] = $"{size}",
        ["Batcher:BatchTimeout"] = "00:05:00",
        ["Batcher:TargetBatchCost"] = "1000",
        ["Batcher:PinPackingThread"] = "false",
    };

    [Fact]
    public async Task A_reloaded_configuration_applies_from_the_next_batch()
    {
        var gate = new GatedLengths();
        gate.Open();
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddDynamicBatcher<string, int>(_ => gate.ProcessAsync, name: "lengths").BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>();

        Assert.Equal([1, 2, 3, 4, 5, 6], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([3, 3], gate.BatchSizes);

        configuration.Change(new Dictionary<string, string?> { ["Batcher:MaxBatchSize"] = "2", ["Batcher:MinBatchSize"] = "2" });
        Assert.Equal([1, 2, 3, 4], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([3, 3, 2, 2], gate.BatchSizes);
        Assert.Equal(4, batcher.Stats.SizeBatches);

        // A smaller cost budget: two records of cost 3 fill a batch of target 6 before the size limit of 4 does.
        configuration.Change(new Dictionary<string, string?>
        {
            ["Batcher:MaxBatchSize"] = "4", ["Batcher:MinBatchSize"] = "4", ["Batcher:TargetBatchCost"] = "6",
        });
        Task<int>[] costly = new[] { "a", "bb", "ccc", "dddd" }.Select(s => batcher.SubmitAsync(s, estimatedCost: 3).AsTask()).ToArray();
        Assert.Equal(new[] { 1, 2, 3, 4 }, await Task.WhenAll(costly).WaitAsync(TestHosts.Bound));
        Assert.Equal([3, 3, 2, 2, 2, 2], gate.BatchSizes);
        Assert.Equal(2, batcher.Stats.FullBatches);

        var reconfigured = host.Services.GetFakeLogCollector().HostingRecords().Where(r => r.Id.Id == 6).ToArray();
        Assert.Equal(2, reconfigured.Length);
        Assert.All(reconfigured, r => Assert.Equal(LogLevel.Information, r.Level));
        Assert.Equal("Batcher lengths reconfigured from its next batch: MaxBatchSize 3 -> 2, MinBatchSize 3 -> 2", reconfigured[0].Message);
        Assert.Equal(
            "Batcher lengths reconfigured from its next batch: TargetBatchCost 1000 -> 6, MaxBatchSize 2 -> 4, MinBatchSize 2 -> 4",
            reconfigured[1].Message);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task A_token_batcher_follows_its_token_options()
    {
        var gate = new GatedLengths();
        gate.Open();
        var settings = WaitToFill(4);
        settings["Batcher:TargetBatchTokens"] = "100";
        settings["Batcher:DefaultTokenEstimate"] = "10";
        var configuration = new ReloadableConfiguration(settings);
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();

        // Each record is estimated at 30 tokens now: a budget of 60 holds two of them.
        configuration.Change(new Dictionary<string, string?> { ["Batcher:TargetBatchTokens"] = "60", ["Batcher:DefaultTokenEstimate"] = "30" });
        Assert.Equal([1, 2, 3, 4], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([2, 2], gate.BatchSizes);
        Assert.Equal(120, batcher.Stats.TotalBatchCost);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Theory]
    [InlineData("Batcher:MaxBatchSize=0", "MaxBatchSize must be at least 1")]
    [InlineData("Batcher:MinBatchSize=5", "MinBatchSize must not exceed MaxBatchSize (3)")]
    [InlineData("Batcher:BatchTimeout=00:00:00", "BatchTimeout must be positive and finite")]
    [InlineData("Batcher:PerBatchCost=-1", "PerBatchCost must be at least 0")]
    [InlineData("Batcher:DefaultTimeout=-00:00:01", "DefaultTimeout must be positive and finite")]
    [InlineData("Batcher:TargetBatchTokens=50", "TargetBatchTokens applies to token batchers only")]
    // Also a change that touches a creation-only option: nothing of a refused change applies.
    [InlineData("Batcher:CostBuckets:0=100|Batcher:CostBuckets:1=50|Batcher:MaxBatchSize=4", "CostBuckets must be zero or more and strictly ascending")]
    [InlineData("Batcher:Workers=0|Batcher:MaxBatchSize=4", "Workers must be between 1 and")]
    public async Task An_invalid_change_is_logged_and_the_batcher_keeps_its_configuration(string change, string expected)
    {
        var gate = new GatedLengths();
        gate.Open();
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddDynamicBatcher<string, int>(_ => gate.ProcessAsync, name: "lengths").BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>();
        var changes = change.Split('|').Select(c => c.Split('=')).ToDictionary(kv => kv[0], kv => (string?)kv[1]);

        var rethrown = Assert.IsType<OptionsValidationException>(configuration.ChangeRefused(changes));
        Assert.Contains(expected, rethrown.Message);

        var logs = host.Services.GetFakeLogCollector();
        var refused = Assert.Single(logs.HostingRecords(), r => r.Id.Id == 7);
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Equal("BatcherReconfigurationRefused", refused.Id.Name);
        Assert.StartsWith("Batcher lengths refused its changed options and keeps running with the previous ones: Batcher 'lengths': ", refused.Message);
        Assert.Contains(expected, refused.Message);
        Assert.DoesNotContain(logs.HostingRecords(), r => r.Id.Id is 6 or 8);

        // Still wait-to-fill batches of three.
        Assert.Equal([1, 2, 3, 4, 5, 6], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([3, 3], gate.BatchSizes);

        // The same refusal again (any reload re-reads the options) is not logged twice.
        configuration.ChangeRefused(new Dictionary<string, string?>());
        Assert.Single(logs.HostingRecords(), r => r.Id.Id == 7);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task A_value_the_binder_cannot_read_is_refused_the_same_way()
    {
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddDynamicBatcher<string, int>(_ => (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(new int[batch.Count]))
            .BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);

        Assert.IsType<InvalidOperationException>(configuration.ChangeRefused(new Dictionary<string, string?> { ["Batcher:CostModel"] = "Squared" }));
        var refused = Assert.Single(host.Services.GetFakeLogCollector().HostingRecords(), r => r.Id.Id == 7);
        Assert.Contains("Batcher:CostModel", refused.Message);
        Assert.Equal(CostModel.Sum, host.Services.GetRequiredService<HostedBatcher<string, int>>().Current.CostModel);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task A_creation_only_change_waits_for_a_restart_while_the_live_part_applies()
    {
        var gate = new GatedLengths();
        gate.Open();
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        var hosted = host.Services.GetRequiredService<HostedBatcher<string, int>>();
        var logs = host.Services.GetFakeLogCollector();

        configuration.Change(new Dictionary<string, string?>
        {
            ["Batcher:Workers"] = "2", ["Batcher:MaxQueueSize"] = "64", ["Batcher:MaxBatchSize"] = "2", ["Batcher:MinBatchSize"] = "2",
        });
        Assert.Equal([1, 2, 3, 4], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([2, 2], gate.BatchSizes);
        Assert.Equal((1, 5000, 2), (hosted.Current.Workers, hosted.Current.MaxQueueSize, hosted.Current.MaxBatchSize));

        var restart = Assert.Single(logs.HostingRecords(), r => r.Id.Id == 8);
        Assert.Equal(LogLevel.Warning, restart.Level);
        Assert.Equal(
            "Batcher String can only take these changes at its next start, and keeps its current values until then: MaxQueueSize 5000 -> 64, Workers 1 -> 2",
            restart.Message);
        var applied = Assert.Single(logs.HostingRecords(), r => r.Id.Id == 6);
        Assert.EndsWith("MaxBatchSize 3 -> 2, MinBatchSize 3 -> 2", applied.Message);

        // Later changes still apply while the configuration holds the values that wait; the warning is not repeated.
        configuration.Change(new Dictionary<string, string?> { ["Batcher:MinBatchSize"] = "1", ["Batcher:BatchTimeout"] = "00:00:01" });
        Assert.Equal(2, logs.HostingRecords().Count(r => r.Id.Id == 6));
        Assert.Single(logs.HostingRecords(), r => r.Id.Id == 8);
        Assert.Equal((1, TimeSpan.FromSeconds(1)), (hosted.Current.MinBatchSize, hosted.Current.BatchTimeout));

        // A different set of waiting values is reported again.
        configuration.Change(new Dictionary<string, string?> { ["Batcher:Workers"] = "3" });
        Assert.Equal(2, logs.HostingRecords().Count(r => r.Id.Id == 8));
        Assert.EndsWith("MaxQueueSize 5000 -> 64, Workers 1 -> 3", logs.HostingRecords().Last(r => r.Id.Id == 8).Message);
        Assert.Equal(2, logs.HostingRecords().Count(r => r.Id.Id == 6)); // nothing live changed
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task Changes_made_before_the_host_starts_are_followed_too()
    {
        var gate = new GatedLengths();
        gate.Open();
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddDynamicBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();
        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>(); // created, not started

        configuration.Change(new Dictionary<string, string?> { ["Batcher:MaxBatchSize"] = "2", ["Batcher:MinBatchSize"] = "2" });
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        Assert.Equal([1, 2, 3, 4], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([2, 2], gate.BatchSizes);
        Assert.Contains("batch size 2..2", host.Services.GetFakeLogCollector().HostingRecords().Single(r => r.Id.Id == 1).Message);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task A_disposed_follower_no_longer_reconfigures_the_batcher()
    {
        var gate = new GatedLengths();
        gate.Open();
        var configuration = new ReloadableConfiguration(WaitToFill(3));
        var builder = TestHosts.Builder(configuration);
        builder.Services.AddDynamicBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>();
        host.Services.GetRequiredService<HostedBatcher<string, int>>().Dispose(); // what the container does when it is disposed

        configuration.Change(new Dictionary<string, string?> { ["Batcher:MaxBatchSize"] = "2", ["Batcher:MinBatchSize"] = "2" });
        Assert.Equal([1, 2, 3], await batcher.SubmitManyAsync(["a", "bb", "ccc"]).WaitAsync(TestHosts.Bound));
        Assert.Equal([3], gate.BatchSizes);
        Assert.DoesNotContain(host.Services.GetFakeLogCollector().HostingRecords(), r => r.Id.Id == 6);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }
}
