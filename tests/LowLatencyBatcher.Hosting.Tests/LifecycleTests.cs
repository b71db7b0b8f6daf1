using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace LowLatencyBatcher.Hosting.Tests;

public sealed class LifecycleTests
{
    private static readonly ProcessFn<string, int> Lengths =
        (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(s => s.Length).ToArray());

    [Fact]
    public async Task The_batcher_is_one_singleton_that_starts_and_stops_with_the_host()
    {
        var builder = TestHosts.Builder();
        builder.Services.AddTokenBatcher<string, int>(_ => Lengths);
        using var host = builder.Build();

        var token = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        Assert.Same(token, host.Services.GetRequiredService<DynamicBatcher<string, int>>());
        Assert.False(token.IsRunning);

        await host.StartAsync().WaitAsync(TestHosts.Bound);
        Assert.True(token.IsRunning);
        Assert.Equal(5, await token.SubmitAsync("hello").AsTask().WaitAsync(TestHosts.Bound));

        await host.StopAsync().WaitAsync(TestHosts.Bound);
        Assert.False(token.IsRunning);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await token.SubmitAsync("late"));

        var logs = host.Services.GetFakeLogCollector();
        Assert.Equal([1, 2, 3], logs.HostingEventIds());
        Assert.StartsWith("Batcher String started: target cost 32000", logs.HostingRecords()[0].Message);
        Assert.Contains("1 record(s) completed", logs.HostingRecords()[^1].Message);
    }

    [Fact]
    public async Task A_dynamic_batcher_is_registered_and_hosted_the_same_way()
    {
        var builder = TestHosts.Builder();
        builder.Services.AddDynamicBatcher<string, int>(_ => Lengths, name: "lengths");
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);

        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>();
        Assert.Null(host.Services.GetService<TokenBatcher<string, int>>());
        Assert.Equal([1, 2, 3], await batcher.SubmitManyAsync(["a", "bb", "ccc"]).WaitAsync(TestHosts.Bound));

        await host.StopAsync().WaitAsync(TestHosts.Bound);
        Assert.False(batcher.IsRunning);
        Assert.Contains(host.Services.GetFakeLogCollector().HostingRecords(), r => r.Message.StartsWith("Batcher lengths stopped", StringComparison.Ordinal));
    }

    [Fact]
    public void Registering_the_same_types_or_name_twice_is_refused()
    {
        var services = new ServiceCollection();
        services.AddTokenBatcher<string, int>(_ => Lengths);

        var sameTypes = Assert.Throws<InvalidOperationException>(() => services.AddDynamicBatcher<string, int>(_ => Lengths, "other"));
        Assert.Contains("already registered", sameTypes.Message);
        var sameName = Assert.Throws<InvalidOperationException>(() => services.AddTokenBatcher<string, long>(_ => (_, _) => default, "String"));
        Assert.Contains("'String' is already registered", sameName.Message);
    }

    [Fact]
    public async Task Shutdown_refuses_new_records_and_drains_every_accepted_one()
    {
        var gate = new GatedLengths();
        var builder = TestHosts.Builder();
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).Configure(o => o.MaxBatchSize = 2);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();

        string[] records = ["a", "bb", "ccc", "dddd", "eeeee"];
        Task<int>[] results = records.Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();
        TestHosts.WaitUntil(() => gate.Entered == 1, "the first batch is inside the process function");

        Task stopping = host.StopAsync();
        TestHosts.WaitUntil(() => !batcher.IsRunning, "the batcher stops accepting records");
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await batcher.SubmitAsync("refused"));
        Assert.False(stopping.IsCompleted); // the batch in the process function holds the drain
        Assert.All(results, r => Assert.False(r.IsCompleted));

        gate.Open();
        await stopping.WaitAsync(TestHosts.Bound);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, await Task.WhenAll(results).WaitAsync(TestHosts.Bound));
        Assert.All(gate.BatchSizes, size => Assert.InRange(size, 1, 2));
        Assert.Equal(5, gate.BatchSizes.Sum());

        var logs = host.Services.GetFakeLogCollector();
        Assert.Equal([1, 2, 3], logs.HostingEventIds());
        var stoppingRecord = logs.HostingRecords().Single(r => r.Id.Id == 2);
        Assert.Contains("drains 5 unfinished record(s)", stoppingRecord.Message);
        Assert.Equal(0, batcher.Stats.TotalCancelled);
    }

    [Fact]
    public async Task What_cannot_finish_within_the_shutdown_timeout_is_cancelled_and_logged()
    {
        var gate = new GatedLengths { IgnoreCancellation = true }; // a process function that never honours its token
        var builder = TestHosts.Builder();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(200));
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).Configure(o => o.MaxBatchSize = 2);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();

        Task<int>[] results = new[] { "a", "bb", "ccc" }.Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();
        TestHosts.WaitUntil(() => gate.Entered == 1, "the first batch is inside the process function");

        await host.StopAsync().WaitAsync(TestHosts.Bound); // returns normally: the timeout is logged, not thrown
        foreach (var result in results)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => result.WaitAsync(TestHosts.Bound));
        }

        Assert.Equal(3, batcher.Stats.TotalCancelled);
        Assert.False(batcher.IsRunning);
        var logs = host.Services.GetFakeLogCollector();
        Assert.Equal([1, 2, 5], logs.HostingEventIds());
        var timedOut = logs.HostingRecords()[^1];
        Assert.Equal(LogLevel.Warning, timedOut.Level);
        Assert.Contains("3 unfinished record(s) completed with OperationCanceledException", timedOut.Message);
        gate.Open();
    }

    [Fact]
    public async Task A_failed_batch_is_logged_with_its_exception()
    {
        var builder = TestHosts.Builder();
        builder.Services.AddTokenBatcher<string, int>(_ => (_, _) => throw new InvalidOperationException("model exploded"));
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await batcher.SubmitAsync("x"));
        Assert.Equal("model exploded", error.Message);

        var logs = host.Services.GetFakeLogCollector();
        TestHosts.WaitUntil(() => logs.HostingRecords().Any(r => r.Id.Id == 4), "the observer logs the failure");
        var failed = logs.HostingRecords().Single(r => r.Id.Id == 4);
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Equal("BatchFailed", failed.Id.Name);
        Assert.Same(error, failed.Exception);
        Assert.Contains("a batch of 1 record(s)", failed.Message);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }
}
