using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Tests.Fakes;

namespace LowLatencyBatcher.Torch.Tests;

public class EndToEndTests
{
    private static int[] Ids(Random random, int length) => Enumerable.Range(0, length).Select(_ => random.Next(1, 256)).ToArray();

    [Fact]
    public async Task ConcurrentSubmitsThroughTheTokenBatcherEachGetTheirOwnResult()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 32, InitialSequenceLength = 16 });
        await using var batcher = new TokenBatcher<TokenSequence, float[]>(runner.ProcessAsync, new TokenBatcherOptions<TokenSequence>
        {
            TargetBatchTokens = 512,
            MaxBatchSize = 32,
            BatchTimeout = TimeSpan.FromMilliseconds(2),
            Workers = 2,
        });
        await batcher.StartAsync();

        var random = new Random(11);
        int[][] inputs = Enumerable.Range(0, 400).Select(_ => Ids(random, random.Next(1, 60))).ToArray();
        var producers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            for (int i = p; i < inputs.Length; i += 8)
            {
                float[] result = await batcher.SubmitAsync(new TokenSequence(inputs[i]));
                Assert.Equal(inputs[i].Sum(), result[0]);
                Assert.Equal(inputs[i].Length, result[1]);
            }
        })).ToArray();
        await Task.WhenAll(producers);
        await batcher.StopAsync();

        BatchStats stats = batcher.Stats;
        Assert.Equal(400, stats.TotalCompleted);
        Assert.Equal(inputs.Sum(ids => (long)ids.Length), stats.TotalBatchCost);
        Assert.Equal(stats.TotalBatches, runner.BatchesProcessed);
        Assert.True(stats.TotalBatches < 400, "records were never batched together");
    }

    [Fact]
    public async Task TheDemoEncoderGivesTheSameEmbeddingThroughTheBatcherAsAlone()
    {
        var options = new DemoEncoderOptions { VocabularySize = 256, ModelDimension = 32, Heads = 2, Layers = 1, FeedForwardDimension = 64, MaxSequenceLength = 64 };
        using var model = new DemoEncoder(options);
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 16, InitialSequenceLength = 16 });
        var random = new Random(5);
        int[][] inputs = Enumerable.Range(0, 48).Select(_ => Ids(random, random.Next(1, 64))).ToArray();

        var alone = new float[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            alone[i] = (await runner.ProcessAsync([new TokenSequence(inputs[i])]))[0];
        }

        await using var batcher = new TokenBatcher<TokenSequence, float[]>(runner.ProcessAsync, new TokenBatcherOptions<TokenSequence>
        {
            TargetBatchTokens = 400,
            MaxBatchSize = 16,
            Workers = 2,
        });
        await batcher.StartAsync();
        float[][] batched = await Task.WhenAll(inputs.Select(ids => batcher.SubmitAsync(new TokenSequence(ids)).AsTask()));
        await batcher.StopAsync();

        Assert.True(batcher.Stats.AvgBatchSize > 1, "records were never batched together");
        for (int i = 0; i < inputs.Length; i++)
        {
            float largest = alone[i].Zip(batched[i]).Max(pair => Math.Abs(pair.First - pair.Second));
            Assert.True(largest <= 1e-4f, $"record {i}: largest difference {largest}");
        }
    }
}
