using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>Full-queue modes, cost models, live reconfiguration, and why batches were sent.</summary>
public class ConfigurationTests
{
    [Fact]
    public async Task RejectModeFailsASubmitAtOnceWhenTheQueueIsFull()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1, QueueFullMode = QueueFullMode.Reject });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var accepted = new List<Task<int>>();
        QueueFullException? refused = null;
        for (int i = 0; i < 50 && refused is null; i++)
        {
            try
            {
                accepted.Add(batcher.SubmitAsync(i).AsTask());
            }
            catch (QueueFullException e)
            {
                refused = e;
            }

            await Task.Delay(5);
        }

        Assert.NotNull(refused);
        Assert.Equal(1, refused.MaxQueueSize);
        Assert.Equal(1, batcher.Stats.TotalRejected);
        Assert.Equal(accepted.Count, batcher.Stats.TotalSubmitted);
        processor.Release();
        Assert.Equal(Enumerable.Range(0, accepted.Count), await Task.WhenAll(accepted).Bounded());
    }

    [Fact]
    public async Task PaddedCostSealsABatchWhenALongRecordWouldPadEveryRow()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed> { TargetBatchCost = 100, CostModel = CostModel.Padded, MinBatchSize = 50, TimeProvider = time });
        await batcher.StartAsync();
        var tasks = new[] { new Costed(1, 10), new Costed(2, 10), new Costed(3, 40), new Costed(4, 40) }
            .Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();
        await Task.WhenAll(tasks.Take(2)).Bounded(); // 3 x 40 = 120 > 100: record 3 starts the next batch
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal([[1, 2], [3, 4]], processor.Batches.Select(b => b.Select(r => r.Id).ToArray()));
        Assert.Equal(2 * 10 + 2 * 40, batcher.Stats.TotalBatchCost);
        Assert.Equal((1L, 1L), (batcher.Stats.BudgetBatches, batcher.Stats.TimeoutBatches));
    }

    [Fact]
    public async Task AReconfigurationAppliesFromTheNextBatch()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        var options = new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2, TimeProvider = time };
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, options);
        await batcher.StartAsync();
        await Task.WhenAll(batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask()).Bounded();
        batcher.Reconfigure(new DynamicBatcherOptions<int> { MaxBatchSize = 512, MinBatchSize = 3, TimeProvider = time });
        var next = Enumerable.Range(3, 3).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await Task.WhenAll(next).Bounded();
        Assert.Equal([[1, 2], [3, 4, 5]], processor.Batches);
        var bigger = Enumerable.Range(6, 300).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(bigger).Bounded(); // batches of up to 512 now: the pooled buffers grew
        Assert.Equal(Enumerable.Range(1, 305), processor.Batches.SelectMany(b => b));
    }

    [Fact]
    public async Task AReconfigurationThatLetsMoreRecordsBeInFlightKeepsTheirCompletionsPooled()
    {
        var processor = new RecordingProcessor<int>();
        var small = new DynamicBatcherOptions<int> { MaxBatchSize = 2, MaxQueueSize = 8, Workers = 1, PrefetchBatches = 1, RunAloneWhenIdle = false };
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, small);
        await batcher.StartAsync();
        batcher.Reconfigure(new DynamicBatcherOptions<int>
        {
            MaxBatchSize = 64, MaxQueueSize = 8, Workers = 1, PrefetchBatches = 1, RunAloneWhenIdle = false,
            BatchTimeout = TimeSpan.FromMinutes(1), // batches go out full (or the first, eagerly): none times out half empty
        });

        // Far more records in flight at once than the first configuration allowed (8 + 2 · 5 = 18): a batch in the
        // worker, a full one in the prefetch slot, a full open one and the intake's 8 hold 137 to 200. The first round
        // fills the pool.
        const int InFlight = 120;
        await HoldInFlightAsync();
        long allocated = await HoldInFlightAsync();
        if (!OptimizedBuildFactAttribute.LibraryIsDebugBuild) // see OptimizedBuildFactAttribute: Debug builds allocate
        {
            Assert.True(allocated == 0, $"{allocated} bytes allocated by the submits of the second round");
        }

        Assert.True(batcher.CompletionsRetained >= InFlight);

        // Submits records until InFlight are accepted while the process function is held, then lets them all complete.
        // Returns the bytes the accepting submits allocated on this thread (where a completion is rented).
        async Task<long> HoldInFlightAsync()
        {
            using var gate = processor.Hold();
            var results = new ValueTask<int>[InFlight];
            long allocatedBySubmits = 0;
            var deadline = DateTime.UtcNow + Wait.Generous;
            for (int i = 0; i < InFlight;)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                bool accepted = batcher.TrySubmit(i, out results[i]);
                allocatedBySubmits += GC.GetAllocatedBytesForCurrentThread() - before;
                if (accepted)
                {
                    i++;
                }
                else
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        Assert.Fail($"only {i} records were accepted"); // the gate opens as the failure leaves its scope
                    }

                    Thread.Sleep(1); // the intake is full: the packing thread moves its records into batches
                }
            }

            processor.Release();
            foreach (var result in results)
            {
                await result;
            }

            return allocatedBySubmits;
        }
    }

    [Fact]
    public async Task ExactlyTheCreationOnlyOptionsAreRefusedByAReconfiguration()
    {
        await using var batcher = new TokenBatcher<string, int>((b, _) => ValueTask.FromResult<IReadOnlyList<int>>(new int[b.Count]));
        await batcher.StartAsync();
        var settable = typeof(TokenBatcherOptions<string>).GetProperties().Where(p => p.CanWrite).ToArray();
        Assert.All(CreationOnlyOptions.Names, name => Assert.Contains(settable, p => p.Name == name));
        int checkedOptions = 0;
        foreach (var property in settable)
        {
            var options = new TokenBatcherOptions<string>();
            object? changed = Changed(property.PropertyType, property.GetValue(options));
            if (changed is null)
            {
                // A function or an observer: values with no order or size, never part of the engine's shape.
                Assert.False(CreationOnlyOptions.Contains(property.Name), property.Name);
                continue;
            }

            property.SetValue(options, changed);
            var refusal = Record.Exception(() => batcher.Reconfigure(options));
            if (CreationOnlyOptions.Contains(property.Name))
            {
                Assert.Equal(property.Name, Assert.IsType<ArgumentException>(refusal).ParamName);
            }
            else
            {
                Assert.True(refusal is null, $"{property.Name} was refused: {refusal?.Message}");
            }

            batcher.Reconfigure(new TokenBatcherOptions<string>());
            checkedOptions++;
        }

        Assert.True(checkedOptions >= 20, $"only {checkedOptions} options were tried");

        static object? Changed(Type type, object? value) => type switch
        {
            _ when type == typeof(int) => (int)value! + 1,
            _ when type == typeof(int?) => 7,
            _ when type == typeof(bool) => !(bool)value!,
            _ when type == typeof(TimeSpan) => (TimeSpan)value! + TimeSpan.FromMilliseconds(1),
            _ when type == typeof(TimeSpan?) => TimeSpan.FromSeconds(3),
            _ when type.IsEnum => Enum.GetValues(type).Cast<object>().First(v => !v.Equals(value)),
            _ when type == typeof(IReadOnlyList<int>) => new[] { 5 },
            _ when type == typeof(TimeProvider) => new FakeTimeProvider(),
            _ => null,
        };
    }

    [Fact]
    public async Task AnInvalidOrStructuralReconfigurationIsRefusedAndChangesNothing()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2 });
        await batcher.StartAsync();
        var invalid = Assert.Throws<ArgumentOutOfRangeException>(() => batcher.Reconfigure(new DynamicBatcherOptions<int> { MaxBatchSize = 0 }));
        Assert.Equal("MaxBatchSize", invalid.ParamName);
        var structural = Assert.Throws<ArgumentException>(() => batcher.Reconfigure(
            new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2, Workers = 3 }));
        Assert.Equal("Workers", structural.ParamName);
        Assert.Contains("only be set when the batcher is created", structural.Message);
        await Task.WhenAll(batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask()).Bounded();
        Assert.Equal([1, 2], Assert.Single(processor.Batches));
    }

    [Fact]
    public async Task StatsCountWhyEachBatchWasSent()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed> { TargetBatchCost = 10, MaxBatchSize = 3, MinBatchSize = 3, TimeProvider = time });
        await batcher.StartAsync();
        await Task.WhenAll(new[] { new Costed(1, 4), new Costed(2, 6) }.Select(r => batcher.SubmitAsync(r).AsTask())).Bounded(); // full
        await Task.WhenAll(new[] { new Costed(3, 1), new Costed(4, 1), new Costed(5, 1) }.Select(r => batcher.SubmitAsync(r).AsTask())).Bounded(); // size
        var pending = new[] { new Costed(6, 5), new Costed(7, 6) }.Select(r => batcher.SubmitAsync(r).AsTask()).ToArray(); // budget, then [7] waits
        await pending[0].Bounded();
        await batcher.StopAsync().Bounded(); // flushes [7]
        await pending[1].Bounded();
        var stats = batcher.Stats;
        Assert.Equal((1L, 1L, 1L, 0L, 0L, 1L), (stats.FullBatches, stats.SizeBatches, stats.BudgetBatches, stats.EagerBatches, stats.TimeoutBatches, stats.ShutdownBatches));
    }
}
