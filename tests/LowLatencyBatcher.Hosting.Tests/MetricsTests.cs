using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Hosting.Tests;

public sealed class MetricsTests
{
    private const string Meter = BatcherMetrics.MeterName;

    [Fact]
    public async Task A_batch_records_its_size_cost_duration_reason_and_each_record_s_latency()
    {
        var clock = new FakeTimeProvider();
        var builder = TestHosts.Builder();
        builder.Services.AddSingleton<TimeProvider>(clock);
        // The model "takes" 7 ms of fake time, so every latency and duration is exactly 7 ms.
        builder.Services.AddTokenBatcher<string, int>(_ => (batch, _) =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(7));
                return ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(s => s.Length).ToArray());
            }, name: "lengths")
            .Configure(o => (o.MaxBatchSize, o.MinBatchSize, o.DefaultTokenEstimate) = (4, 4, 10));
        using var host = builder.Build();
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var latency = new MetricCollector<double>(meters, Meter, "lowlatencybatcher.record.duration");
        using var duration = new MetricCollector<double>(meters, Meter, "lowlatencybatcher.batch.duration");
        using var size = new MetricCollector<int>(meters, Meter, "lowlatencybatcher.batch.size");
        using var cost = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.batch.cost");
        using var batches = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.batches");

        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        Assert.Equal([1, 2, 3, 4], await batcher.SubmitManyAsync(["a", "bb", "ccc", "dddd"]).WaitAsync(TestHosts.Bound));
        await latency.WaitForMeasurementsAsync(4, TestHosts.Bound);
        await batches.WaitForMeasurementsAsync(1, TestHosts.Bound);

        Assert.Equal(4, latency.GetMeasurementSnapshot().Count);
        Assert.All(latency.GetMeasurementSnapshot(), m =>
        {
            Assert.Equal(0.007, m.Value, 9);
            Assert.Equal("lengths", m.Tags[BatcherMetrics.BatcherNameTag]);
        });
        Assert.Equal(0.007, Assert.Single(duration.GetMeasurementSnapshot()).Value, 9);
        Assert.Equal(4, Assert.Single(size.GetMeasurementSnapshot()).Value);
        Assert.Equal(40, Assert.Single(cost.GetMeasurementSnapshot()).Value);
        var batch = Assert.Single(batches.GetMeasurementSnapshot());
        Assert.Equal(1, batch.Value);
        Assert.Equal("size", batch.Tags[BatcherMetrics.DispatchReasonTag]);
        Assert.False(batch.Tags.ContainsKey(BatcherMetrics.ErrorTypeTag));

        Assert.Equal("s", latency.Instrument!.Unit);
        Assert.Equal("{record}", size.Instrument!.Unit);
        Assert.IsType<Histogram<double>>(latency.Instrument);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task Observable_instruments_follow_the_batcher_s_statistics()
    {
        var gate = new GatedLengths();
        var builder = TestHosts.Builder();
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync)
            .Configure(o => (o.MaxBatchSize, o.MaxQueueSize) = (1, 16));
        using var host = builder.Build();
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var depth = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.queue.depth");
        using var submitted = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.records.submitted");
        using var completed = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.records.completed");
        using var utilization = new MetricCollector<double>(meters, Meter, "lowlatencybatcher.utilization");

        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        using var cancel = new CancellationTokenSource();
        Task<int>[] results = Enumerable.Range(1, 6).Select(i => batcher.SubmitAsync(new string('x', i)).AsTask()).ToArray();
        Task<int> cancelled = batcher.SubmitAsync("cancel me", cancellationToken: cancel.Token).AsTask();
        TestHosts.WaitUntil(() => gate.Entered == 1, "the first batch is inside the process function");

        depth.RecordObservableInstruments();
        submitted.RecordObservableInstruments();
        Assert.Equal(7, submitted.LastMeasurement!.Value);
        Assert.InRange(depth.LastMeasurement!.Value, 0, 6); // the packing thread may already hold some in its open batch

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TestHosts.Bound));
        gate.Open();
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, await Task.WhenAll(results).WaitAsync(TestHosts.Bound));
        TestHosts.WaitUntil(() => batcher.Stats.TotalCompleted == 7, "the statistics count every record");

        depth.RecordObservableInstruments();
        completed.RecordObservableInstruments();
        utilization.RecordObservableInstruments();
        Assert.Equal(0, depth.LastMeasurement!.Value);
        var byOutcome = completed.GetMeasurementSnapshot()
            .ToDictionary(m => (string)m.Tags[BatcherMetrics.OutcomeTag]!, m => m.Value);
        Assert.Equal(new Dictionary<string, long> { ["succeeded"] = 6, ["failed"] = 0, ["cancelled"] = 1, ["timed_out"] = 0 }, byOutcome);
        Assert.InRange(utilization.LastMeasurement!.Value, double.Epsilon, 1.0);
        Assert.Equal("1", utilization.Instrument!.Unit);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task A_failed_batch_is_counted_with_its_error_type_and_its_records_as_failed()
    {
        var builder = TestHosts.Builder();
        builder.Services.AddTokenBatcher<string, int>(_ => (_, _) => throw new InvalidOperationException("model exploded"))
            .Configure(o => (o.MaxBatchSize, o.MinBatchSize) = (2, 2));
        using var host = builder.Build();
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var batches = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.batches");
        using var completed = new MetricCollector<long>(meters, Meter, "lowlatencybatcher.records.completed");

        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();
        var first = batcher.SubmitAsync("a").AsTask();
        var second = batcher.SubmitAsync("b").AsTask();
        await Assert.ThrowsAsync<InvalidOperationException>(() => first.WaitAsync(TestHosts.Bound));
        await Assert.ThrowsAsync<InvalidOperationException>(() => second.WaitAsync(TestHosts.Bound));
        await batches.WaitForMeasurementsAsync(1, TestHosts.Bound);

        var batch = Assert.Single(batches.GetMeasurementSnapshot());
        Assert.Equal("System.InvalidOperationException", batch.Tags[BatcherMetrics.ErrorTypeTag]);
        TestHosts.WaitUntil(() => batcher.Stats.TotalCompleted == 2, "the statistics count both records");
        completed.RecordObservableInstruments();
        Assert.Equal(2, completed.GetMeasurementSnapshot().Single(m => m.Tags[BatcherMetrics.OutcomeTag] is "failed").Value);
        Assert.Equal(0, completed.GetMeasurementSnapshot().Single(m => m.Tags[BatcherMetrics.OutcomeTag] is "succeeded").Value);
        await host.StopAsync().WaitAsync(TestHosts.Bound);
    }

    [Fact]
    public async Task Batches_are_counted_by_why_they_were_sent_as_in_the_statistics()
    {
        var clock = new FakeTimeProvider();
        var builder = TestHosts.Builder();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddDynamicBatcher<string, int>(_ => (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(s => s.Length).ToArray()))
            .Configure(o => (o.TargetBatchCost, o.MaxBatchSize, o.MinBatchSize, o.BatchTimeout, o.PinPackingThread) = (10, 3, 3, TimeSpan.FromMinutes(1), false));
        using var host = builder.Build();
        using var batches = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), Meter, "lowlatencybatcher.batches");
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<DynamicBatcher<string, int>>();

        Assert.Equal(1, await batcher.SubmitAsync("a", estimatedCost: 10).AsTask().WaitAsync(TestHosts.Bound)); // full: cost 10 of 10
        Assert.Equal([1, 2, 3], await batcher.SubmitManyAsync(["a", "bb", "ccc"]).WaitAsync(TestHosts.Bound)); // size: 3 of 3 records
        Task<int> first = batcher.SubmitAsync("a", estimatedCost: 6).AsTask();
        Task<int> second = batcher.SubmitAsync("bb", estimatedCost: 6).AsTask();
        Assert.Equal(1, await first.WaitAsync(TestHosts.Bound)); // budget: 6 + 6 would exceed 10
        TestHosts.WaitUntil(() => batcher.Stats.QueueDepth == 0, "the second record waits in the open batch");
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, await second.WaitAsync(TestHosts.Bound)); // timeout: a minute since it came
        Task<int> last = batcher.SubmitAsync("ccc").AsTask();
        TestHosts.WaitUntil(() => batcher.Stats.QueueDepth == 0, "the last record waits in the open batch");
        await host.StopAsync().WaitAsync(TestHosts.Bound);
        Assert.Equal(3, await last.WaitAsync(TestHosts.Bound)); // shutdown: the stop flushed it

        await batches.WaitForMeasurementsAsync(5, TestHosts.Bound);
        var counted = batches.GetMeasurementSnapshot()
            .GroupBy(m => (string)m.Tags[BatcherMetrics.DispatchReasonTag]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(new Dictionary<string, long> { ["full"] = 1, ["size"] = 1, ["budget"] = 1, ["timeout"] = 1, ["shutdown"] = 1 }, counted);
        BatchStats stats = batcher.Stats;
        Assert.Equal(
            (1L, 1L, 1L, 0L, 1L, 1L),
            (stats.FullBatches, stats.BudgetBatches, stats.SizeBatches, stats.EagerBatches, stats.TimeoutBatches, stats.ShutdownBatches));
        Assert.Contains(
            "5 batch(es) (full 1, budget 1, size 1, eager 0, timeout 1, shutdown 1)",
            host.Services.GetFakeLogCollector().HostingRecords().Single(r => r.Id.Id == 3).Message);
    }

    [Fact]
    public async Task Records_whose_timeout_passed_are_counted_as_timed_out()
    {
        var clock = new FakeTimeProvider();
        var gate = new GatedLengths();
        var builder = TestHosts.Builder(new Dictionary<string, string?>
        {
            ["Batcher:MaxBatchSize"] = "1", ["Batcher:DefaultTimeout"] = "00:00:01", ["Batcher:PinPackingThread"] = "false",
        });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddTokenBatcher<string, int>(_ => gate.ProcessAsync).BindConfiguration("Batcher");
        using var host = builder.Build();
        using var completed = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), Meter, "lowlatencybatcher.records.completed");
        await host.StartAsync().WaitAsync(TestHosts.Bound);
        var batcher = host.Services.GetRequiredService<TokenBatcher<string, int>>();

        Task<int> running = batcher.SubmitAsync("in the model").AsTask();
        TestHosts.WaitUntil(() => gate.Entered == 1, "the first record is inside the process function");
        Task<int>[] waiting = [batcher.SubmitAsync("late").AsTask(), batcher.SubmitAsync("later").AsTask()];
        clock.Advance(TimeSpan.FromSeconds(2)); // past the default timeout of the two waiting records, not of the running one
        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => task.WaitAsync(TestHosts.Bound));
        }

        gate.Open();
        Assert.Equal(12, await running.WaitAsync(TestHosts.Bound));
        TestHosts.WaitUntil(() => batcher.Stats.TotalCompleted == 3, "the statistics count every record");
        completed.RecordObservableInstruments();
        var byOutcome = completed.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags[BatcherMetrics.OutcomeTag]!, m => m.Value);
        Assert.Equal(new Dictionary<string, long> { ["succeeded"] = 1, ["failed"] = 0, ["cancelled"] = 0, ["timed_out"] = 2 }, byOutcome);
        Assert.Equal([1], gate.BatchSizes); // the timed-out records never reached the process function

        await host.StopAsync().WaitAsync(TestHosts.Bound);
        Assert.Contains("0 cancelled, 2 timed out", host.Services.GetFakeLogCollector().HostingRecords().Single(r => r.Id.Id == 3).Message);
    }

    [Fact]
    public async Task Without_dependency_injection_the_metrics_attach_to_a_batcher_by_hand()
    {
        using var metrics = new BatcherMetrics("manual");
        using var batchSizes = new MetricCollector<int>((object?)null, Meter, "lowlatencybatcher.batch.size");
        using var submitted = new MetricCollector<long>((object?)null, Meter, "lowlatencybatcher.records.submitted");
        using var batches = new MetricCollector<long>((object?)null, Meter, "lowlatencybatcher.batches");
        await using var batcher = new DynamicBatcher<string, int>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(s => s.Length).ToArray()),
            new DynamicBatcherOptions<string> { Observer = metrics });
        metrics.Observe(batcher);
        await batcher.StartAsync();

        Assert.Equal(2, await batcher.SubmitAsync("ab").AsTask().WaitAsync(TestHosts.Bound));
        await batchSizes.WaitForMeasurementsAsync(1, TestHosts.Bound);
        // The global listener sees every meter of this name in the process: pick this batcher's measurements.
        Assert.Contains(batchSizes.GetMeasurementSnapshot(), m => m.Value == 1 && m.Tags[BatcherMetrics.BatcherNameTag] is "manual");
        // A lone record with an idle worker goes at once (MinBatchSize 1 by default).
        Assert.Contains(batches.GetMeasurementSnapshot(), m => m.Tags[BatcherMetrics.BatcherNameTag] is "manual" && m.Tags[BatcherMetrics.DispatchReasonTag] is "eager");
        submitted.RecordObservableInstruments();
        Assert.Contains(submitted.GetMeasurementSnapshot(), m => m.Value == 1 && m.Tags[BatcherMetrics.BatcherNameTag] is "manual");
    }

    [Fact]
    public async Task Submits_refused_by_a_full_queue_are_counted()
    {
        using var metrics = new BatcherMetrics("rejecting");
        using var rejected = new MetricCollector<long>((object?)null, Meter, "lowlatencybatcher.records.rejected");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var batcher = new DynamicBatcher<string, int>(
            async (batch, _) =>
            {
                await gate.Task;
                return batch.Select(s => s.Length).ToArray();
            },
            new DynamicBatcherOptions<string>
            {
                Observer = metrics, MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1, QueueFullMode = QueueFullMode.Reject,
            });
        metrics.Observe(batcher);
        await batcher.StartAsync();
        var accepted = new List<Task<int>>();
        int refusals = 0;
        try
        {
            for (int i = 0; i < 200 && refusals < 3; i++)
            {
                try
                {
                    accepted.Add(batcher.SubmitAsync("x").AsTask());
                }
                catch (QueueFullException)
                {
                    refusals++;
                }

                await Task.Delay(2);
            }

            Assert.Equal(3, refusals);
            rejected.RecordObservableInstruments();
            Assert.Contains(rejected.GetMeasurementSnapshot(), m => m.Value == 3 && m.Tags[BatcherMetrics.BatcherNameTag] is "rejecting");
        }
        finally
        {
            gate.SetResult(); // also when an assertion failed: the disposal's drain would otherwise wait for it forever
        }

        await Task.WhenAll(accepted).WaitAsync(TestHosts.Bound);
    }
}
