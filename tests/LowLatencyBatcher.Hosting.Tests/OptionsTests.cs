using System.Text;
using Microsoft.Extensions.Configuration;
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

    [Fact]
    public async Task The_packing_queue_and_failure_options_bind_from_json_and_reach_the_batcher()
    {
        var gate = new GatedLengths(); // closed: records pile up until the queue is full
        var builder = TestHosts.Builder();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""
            {
              "Batcher": {
                "CostModel": "Padded", "PerBatchCost": 5, "QueueFullMode": "Reject", "DefaultTimeout": "00:10:00",
                "IsolateFailures": true, "PriorityLanes": 3, "PriorityAging": "00:00:00.250", "CostBuckets": [16, 64, 256],
                "MaxBatchSize": 1, "MaxQueueSize": 2, "PrefetchBatches": 1, "PinPackingThread": false
              }
            }
            """)));
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get("String");
        Assert.Equal((CostModel.Padded, 5, QueueFullMode.Reject), (options.CostModel, options.PerBatchCost, options.QueueFullMode));
        Assert.Equal((TimeSpan.FromMinutes(10), true), (options.DefaultTimeout, options.IsolateFailures));
        Assert.Equal((3, TimeSpan.FromMilliseconds(250)), (options.PriorityLanes, options.PriorityAging));
        Assert.Equal([16, 64, 256], options.CostBuckets!);

        var core = options.ToTokenBatcherOptions<string>();
        Assert.Equal((CostModel.Padded, 5, QueueFullMode.Reject), (core.CostModel, core.PerBatchCost, core.QueueFullMode));
        Assert.Equal((TimeSpan.FromMinutes(10), true), (core.DefaultTimeout, core.IsolateFailures));
        Assert.Equal((3, TimeSpan.FromMilliseconds(250)), (core.PriorityLanes, core.PriorityAging));
        Assert.Equal([16, 64, 256], core.CostBuckets!);
        Assert.NotSame(options.CostBuckets, core.CostBuckets); // the core options do not share the bindable list

        await host.StartAsync().WaitAsync(TestHosts.Bound); // the core accepts them
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        Assert.Equal(0, batcher.Stats.TotalSubmitted);

        // The lanes exist (a submit to the last one is accepted), and a full queue rejects at once instead of waiting.
        var pending = new List<Task<int>> { batcher.SubmitAsync("low", new SubmitOptions { Priority = 2 }).AsTask() };
        QueueFullException? rejected = null;
        for (int i = 0; i < 100 && rejected is null; i++)
        {
            try
            {
                Task<int> submitted = batcher.SubmitAsync(new string('x', i + 1)).AsTask();
                if (submitted.IsFaulted)
                {
                    rejected = Assert.IsType<QueueFullException>(submitted.Exception!.InnerException);
                }
                else
                {
                    pending.Add(submitted);
                }
            }
            catch (QueueFullException error)
            {
                rejected = error;
            }
        }

        Assert.NotNull(rejected);
        Assert.Equal(2, rejected.MaxQueueSize);
        gate.Open();
        await Task.WhenAll(pending).WaitAsync(TestHosts.Bound);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public void Every_option_is_in_the_field_list_that_copies_and_compares_them()
    {
        var properties = typeof(BatcherOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).Order();
        Assert.Equal(properties, BatcherOptionFields.All.Select(f => f.Name).Order());

        var changed = Changed(new BatcherOptions());
        var copy = BatcherOptionFields.Clone(changed);
        Assert.All(BatcherOptionFields.All, f => Assert.Equal(f.Show(changed), f.Show(copy)));
        Assert.All(BatcherOptionFields.All, f => Assert.NotEqual(f.Show(new BatcherOptions()), f.Show(copy)));
        Assert.NotSame(changed.CostBuckets, copy.CostBuckets);
    }

    [Fact]
    public async Task The_options_marked_live_are_exactly_those_a_running_batcher_takes()
    {
        var initial = new BatcherOptions { PinPackingThread = false };
        await using var batcher = new TokenBatcher<string, int>(new ProcessFn<string, int>((_, _) => default), initial.ToTokenBatcherOptions<string>());
        await batcher.StartAsync();

        foreach (var field in BatcherOptionFields.All)
        {
            var options = BatcherOptionFields.Clone(initial);
            field.CopyTo(options, Changed(initial));
            var refusal = Record.Exception(() => batcher.Reconfigure(options.ToTokenBatcherOptions<string>()));
            if (field.Live)
            {
                Assert.True(refusal is null, $"{field.Name} is marked live but the batcher refused it: {refusal?.Message}");
            }
            else
            {
                var error = Assert.IsType<ArgumentException>(refusal);
                Assert.StartsWith($"{field.Name} can only be set when the batcher is created", error.Message);
            }
        }
    }

    /// <summary>Valid options that differ from <paramref name="from"/> in every field.</summary>
    private static BatcherOptions Changed(BatcherOptions from) => new()
    {
        TargetBatchCost = from.TargetBatchCost + 1,
        TargetBatchTokens = (from.TargetBatchTokens ?? from.TargetBatchCost) + 2,
        DefaultCost = from.DefaultCost + 1,
        DefaultTokenEstimate = (from.DefaultTokenEstimate ?? from.DefaultCost) + 2,
        MaxBatchSize = from.MaxBatchSize + 1,
        MinBatchSize = from.MinBatchSize + 1,
        BatchTimeout = from.BatchTimeout + TimeSpan.FromMilliseconds(1),
        MaxQueueSize = from.MaxQueueSize + 1,
        PrefetchBatches = from.PrefetchBatches + 1,
        Workers = from.Workers + 1,
        PinPackingThread = !from.PinPackingThread,
        RunAloneWhenIdle = !from.RunAloneWhenIdle,
        CostModel = from.CostModel == CostModel.Sum ? CostModel.Padded : CostModel.Sum,
        PerBatchCost = from.PerBatchCost + 1,
        QueueFullMode = from.QueueFullMode == QueueFullMode.Wait ? QueueFullMode.Reject : QueueFullMode.Wait,
        DefaultTimeout = (from.DefaultTimeout ?? TimeSpan.FromSeconds(1)) + TimeSpan.FromSeconds(1),
        IsolateFailures = !from.IsolateFailures,
        PriorityLanes = from.PriorityLanes + 1,
        PriorityAging = from.PriorityAging + TimeSpan.FromSeconds(1),
        CostBuckets = [.. from.CostBuckets ?? [], 1_000_000],
    };
}
