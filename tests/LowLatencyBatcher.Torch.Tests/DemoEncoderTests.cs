using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;

namespace LowLatencyBatcher.Torch.Tests;

public class DemoEncoderTests
{
    private static readonly DemoEncoderOptions Small = new() { VocabularySize = 512, ModelDimension = 32, Heads = 4, Layers = 2, FeedForwardDimension = 64, MaxSequenceLength = 128 };

    private static int[] Ids(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(1, 512)).ToArray();
    }

    [Fact]
    public async Task ARecordEmbedsTheSameAloneAndInsideAPaddedBatch()
    {
        using var model = new DemoEncoder(Small);
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 8 });
        int[] probe = Ids(13, 1);

        float[] alone = (await runner.ProcessAsync([new TokenSequence(probe)]))[0];
        IReadOnlyList<float[]> mixed = await runner.ProcessAsync(
            [new TokenSequence(Ids(40, 2)), new TokenSequence(Ids(3, 3)), new TokenSequence(probe), new TokenSequence(Ids(97, 4)), new TokenSequence(Ids(1, 5))]);

        Assert.Equal(Small.ModelDimension, alone.Length);
        Assert.All(alone, value => Assert.True(float.IsFinite(value)));
        float largest = alone.Zip(mixed[2]).Max(pair => Math.Abs(pair.First - pair.Second));
        Assert.True(largest <= 1e-4f, $"largest difference {largest}");
        // The batch is not degenerate: different inputs embed differently.
        Assert.True(alone.Zip(mixed[0]).Max(pair => Math.Abs(pair.First - pair.Second)) > 1e-2f);
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameModelAndAnotherSeedADifferentOne()
    {
        TokenSequence[] batch = [new TokenSequence(Ids(20, 9))];
        float[] Embed(DemoEncoderOptions options)
        {
            using var model = new DemoEncoder(options);
            using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 1 });
            return runner.ProcessAsync(batch).AsTask().GetAwaiter().GetResult()[0];
        }

        float[] first = Embed(Small);
        float[] again = Embed(Small);
        float[] other = await Task.Run(() => Embed(Small with { Seed = 99 }));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void RejectsAHeadCountThatDoesNotDivideTheWidth()
    {
        Assert.Throws<ArgumentException>(() => new DemoEncoder(Small with { Heads = 5 }));
    }
}
