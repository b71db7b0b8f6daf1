namespace LowLatencyBatcher.Tests;

/// <summary>The estimate order: explicit tokens, explicit cost, estimator function, ITokenEstimator, ICostEstimator, default.</summary>
public class CostEstimationTests
{
    private sealed record Both(int Tokens, int Cost) : ITokenEstimator, ICostEstimator
    {
        public int EstimateTokens() => Tokens;

        public int EstimateCost() => Cost;
    }

    private sealed record Plain(int Id);

    /// <summary>Runs one record through a token batcher whose budget equals the cost, and reads the batch cost back.</summary>
    private static async Task<long> CostOf<TRecord>(
        TRecord record, TokenBatcherOptions<TRecord> options, int? tokens = null, int? cost = null, bool token = true)
        where TRecord : notnull
    {
        DynamicBatcher<TRecord, TRecord> batcher = token
            ? new TokenBatcher<TRecord, TRecord>((b, _) => ValueTask.FromResult(b), options)
            : new DynamicBatcher<TRecord, TRecord>((b, _) => ValueTask.FromResult(b), options);
        await using (batcher)
        {
            await batcher.StartAsync();
            var pending = batcher is TokenBatcher<TRecord, TRecord> tb
                ? tb.SubmitAsync(record, tokens, cost)
                : batcher.SubmitAsync(record, cost);
            await pending.Bounded();
            return batcher.Stats.TotalBatchCost;
        }
    }

    [Fact]
    public async Task ExplicitTokensComeFirst() =>
        Assert.Equal(11, await CostOf(new Both(3, 4), new() { TokenEstimator = _ => 5 }, tokens: 11, cost: 12));

    [Fact]
    public async Task ExplicitCostComesNext() =>
        Assert.Equal(12, await CostOf(new Both(3, 4), new() { TokenEstimator = _ => 5 }, cost: 12));

    [Fact]
    public async Task AnExplicitZeroCounts() =>
        Assert.Equal(0, await CostOf(new Both(3, 4), new() { DefaultCost = 9 }, tokens: 0));

    [Fact]
    public async Task TheEstimatorFunctionComesBeforeTheRecordsOwnEstimates() =>
        Assert.Equal(5, await CostOf(new Both(3, 4), new() { CostEstimator = _ => 5 }));

    [Fact]
    public async Task ATokenBatcherPrefersITokenEstimatorOverICostEstimator() =>
        Assert.Equal(3, await CostOf(new Both(3, 4), new()));

    [Fact]
    public async Task ADynamicBatcherIgnoresITokenEstimator() =>
        Assert.Equal(4, await CostOf(new Both(3, 4), new(), token: false));

    [Fact]
    public async Task TheDefaultComesLast() =>
        Assert.Equal(6, await CostOf(new Plain(1), new() { DefaultTokenEstimate = 6, DefaultCost = 2 }));

    [Fact]
    public async Task PromptEstimatesOneTokenPerFourCharactersPlusOne()
    {
        Assert.Equal(3, new Prompt("12345678").EstimateTokens());
        Assert.Equal(1, new Prompt("").EstimateTokens());
        Assert.Equal(3, await CostOf(new Prompt("abcdefghij"), new()));
    }

    [Fact]
    public async Task NegativeExplicitEstimatesAreRefusedNamingTheArgument()
    {
        await using var batcher = new TokenBatcher<int, int>((b, _) => ValueTask.FromResult(b));
        await batcher.StartAsync();
        Assert.Equal("estimatedTokens", Assert.Throws<ArgumentOutOfRangeException>(() => batcher.SubmitAsync(1, estimatedTokens: -1)).ParamName);
        Assert.Equal("estimatedCost", Assert.Throws<ArgumentOutOfRangeException>(() => batcher.SubmitAsync(1, estimatedCost: -1)).ParamName);
        Assert.Equal("estimatedCost", Assert.Throws<ArgumentOutOfRangeException>(() => batcher.TrySubmit(1, out _, -3)).ParamName);
        Assert.Equal(0, batcher.Stats.TotalSubmitted);
    }

    [Fact]
    public async Task ABadEstimateFailsThatSubmitOnlyAndTheBatcherKeepsRunning()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (b, _) => ValueTask.FromResult(b),
            new DynamicBatcherOptions<int> { CostEstimator = x => x < 0 ? x : x == 13 ? throw new FormatException("13") : 1 });
        await batcher.StartAsync();
        var negative = Assert.Throws<InvalidOperationException>(() => batcher.SubmitAsync(-4));
        Assert.Contains("CostEstimator returned -4", negative.Message);
        Assert.Throws<FormatException>(() => batcher.SubmitAsync(13));
        Assert.Equal(5, await batcher.SubmitAsync(5).Bounded());
        Assert.True(batcher.IsRunning);
        Assert.Equal(1, batcher.Stats.TotalSubmitted);
    }

    [Fact]
    public async Task ANullRecordIsRefused()
    {
        await using var batcher = new DynamicBatcher<string, string>((b, _) => ValueTask.FromResult(b));
        await batcher.StartAsync();
        Assert.Equal("record", Assert.Throws<ArgumentNullException>(() => batcher.SubmitAsync(null!)).ParamName);
        Assert.Equal("record", Assert.Throws<ArgumentNullException>(() => batcher.TrySubmit(null!, out _)).ParamName);
    }
}
