using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Tests.Fakes;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Tests;

public class TokenBatchRunnerTests
{
    private static TokenSequence Seq(params int[] ids) => new(ids);

    [Fact]
    public async Task EachRecordGetsItsOwnRowComputedUnderItsMask()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 8, PaddingId = 1000 });

        IReadOnlyList<float[]> results = await runner.ProcessAsync([Seq(1, 2, 3), Seq(10), Seq(), Seq(4, 4, 4, 4)]);

        Assert.Equal(4, results.Count);
        Assert.Equal([6f, 3f, 4f], results[0]);
        Assert.Equal([10f, 1f, 4f], results[1]);
        Assert.Equal([0f, 0f, 4f], results[2]);
        Assert.Equal([16f, 4f, 4f], results[3]);
        Assert.Equal(torch.CPU.type, runner.Device.type);
    }

    [Fact]
    public async Task PerTokenOutputIsCutToEachRecordsLength()
    {
        using var model = new EchoModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 4, PerTokenOutput = true });

        IReadOnlyList<float[]> results = await runner.ProcessAsync([Seq(7, 8, 9), Seq(5)]);

        Assert.Equal([7f, 8f, 9f], results[0]);
        Assert.Equal([5f], results[1]);
    }

    [Fact]
    public async Task BuffersGrowForALongBatchAndStayCorrectAfterwards()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 4, InitialSequenceLength = 4 });
        int[] longIds = Enumerable.Range(1, 50).ToArray();

        IReadOnlyList<float[]> first = await runner.ProcessAsync([Seq(1, 2), Seq(longIds)]);
        IReadOnlyList<float[]> second = await runner.ProcessAsync([Seq(3), Seq(longIds), Seq(4, 5)]);
        int grownAfterTwoLongBatches = runner.BufferReallocations;
        IReadOnlyList<float[]> third = await runner.ProcessAsync([Seq(6, 6)]);

        Assert.Equal([3f, 2f, 50f], first[0]);
        Assert.Equal([1275f, 50f, 50f], first[1]);
        Assert.Equal([3f, 1f, 50f], second[0]);
        Assert.Equal([1275f, 50f, 50f], second[1]);
        Assert.Equal([9f, 2f, 50f], second[2]);
        Assert.Equal([12f, 2f, 2f], third[0]);
        // Each of the two slots grew once; the short batch afterwards reused the grown buffers.
        Assert.Equal(2, grownAfterTwoLongBatches);
        Assert.Equal(2, runner.BufferReallocations);
    }

    [Fact]
    public async Task ManyConcurrentBatchesAllGetTheirOwnResults()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 16, InitialSequenceLength = 8 });
        var random = new Random(7);
        var batches = Enumerable.Range(0, 40)
            .Select(_ => Enumerable.Range(0, random.Next(1, 17))
                .Select(_ => Enumerable.Range(0, random.Next(0, 30)).Select(_ => random.Next(0, 100)).ToArray())
                .ToArray())
            .ToArray();

        var tasks = batches.Select(b => runner.ProcessAsync(b.Select(ids => new TokenSequence(ids)).ToArray()).AsTask()).ToArray();
        IReadOnlyList<float[]>[] results = await Task.WhenAll(tasks);

        for (int b = 0; b < batches.Length; b++)
        {
            for (int r = 0; r < batches[b].Length; r++)
            {
                Assert.Equal(batches[b][r].Sum(), results[b][r][0]);
                Assert.Equal(batches[b][r].Length, results[b][r][1]);
            }
        }
        Assert.Equal(40, runner.BatchesProcessed);
    }

    [Fact]
    public async Task AFailingBatchFaultsOnlyItsOwnCallers()
    {
        using var model = new PickyModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 4 });

        var bad = runner.ProcessAsync([Seq(1), Seq(666)]).AsTask();
        var good = runner.ProcessAsync([Seq(1, 2)]).AsTask();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Contains("666", error.Message);
        IReadOnlyList<float[]> goodResults = await good;
        Assert.Equal([2f], goodResults[0]);
    }

    [Fact]
    public async Task RejectsOversizedBatchesAndUseAfterDispose()
    {
        using var model = new MaskedSumModule();
        var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 2 });

        Assert.Throws<ArgumentException>(() => runner.ProcessAsync([Seq(1), Seq(2), Seq(3)]));
        Assert.Empty(await runner.ProcessAsync([]));
        runner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => runner.ProcessAsync([Seq(1)]));
    }

    [Fact]
    public async Task ACancelledTokenCancelsTheBatch()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu" });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runner.ProcessAsync([Seq(1)], new CancellationToken(true)).AsTask());
    }
}
