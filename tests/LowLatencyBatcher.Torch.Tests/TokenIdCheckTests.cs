using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Tests.Fakes;

namespace LowLatencyBatcher.Torch.Tests;

/// <summary>Token ids outside the vocabulary never reach the device, and fail only their own record.</summary>
public class TokenIdCheckTests
{
    [Theory]
    [InlineData(100)]
    [InlineData(-1)]
    public async Task ABatchWithAnIdOutsideTheVocabularyFailsNamingTheRecordAndNothingIsCopied(int badId)
    {
        using var backend = new RecordingStreamBackend();
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { StreamBackend = backend, MaxBatchSize = 4, VocabularySize = 100 });

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => runner.ProcessAsync([new TokenSequence(new[] { 1, 99 }), new TokenSequence(new[] { 5, badId, 7 })]).AsTask());

        Assert.Equal("batch", error.ParamName);
        Assert.Contains($"Record 1: token id {badId} at position 1", error.Message);
        Assert.Contains("[0, 100)", error.Message);
        Assert.False(backend.Contains(op => op.Kind == "copy"));
        // The runner goes on: the next batch runs and ids at the edges of the vocabulary are accepted.
        IReadOnlyList<float[]> results = await runner.ProcessAsync([new TokenSequence(new[] { 0, 99 })]);
        Assert.Equal([99f, 2f, 2f], results[0]);
    }

    [Fact]
    public async Task InABatcherTheBadRecordFailsAloneAndTheOthersGetTheirResults()
    {
        using var model = new MaskedSumModule();
        using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 4, VocabularySize = 50 });
        await using var batcher = new TokenBatcher<TokenSequence, float[]>(runner.ProcessEachAsync, new TokenBatcherOptions<TokenSequence>
        {
            MaxBatchSize = 3,
            MinBatchSize = 3,
            BatchTimeout = TimeSpan.FromSeconds(5),
        });
        await batcher.StartAsync();

        Task<float[]> good1 = batcher.SubmitAsync(new TokenSequence(new[] { 1, 2 })).AsTask();
        Task<float[]> bad = batcher.SubmitAsync(new TokenSequence(new[] { 3, 50 })).AsTask();
        Task<float[]> good2 = batcher.SubmitAsync(new TokenSequence(new[] { 49 })).AsTask();

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => bad);
        Assert.Contains("token id 50 at position 1", error.Message);
        Assert.Equal(3f, (await good1)[0]);
        Assert.Equal(49f, (await good2)[0]);
        await batcher.StopAsync();
    }

    [Fact]
    public void AVocabularyBelowOneIsRejected()
    {
        using var model = new MaskedSumModule();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBatchRunner(model, new TokenBatchRunnerOptions { Device = "cpu", VocabularySize = 0 }));
        Assert.Contains("VocabularySize", error.Message);
    }
}
