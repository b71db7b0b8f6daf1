namespace LowLatencyBatcher.Tests;

public class OptionsTests
{
    private static readonly ProcessFn<int, int> Echo = (batch, _) => ValueTask.FromResult(batch);

    public static TheoryData<DynamicBatcherOptions<int>, string> InvalidOptions => new()
    {
        { new() { TargetBatchCost = 0 }, "TargetBatchCost" },
        { new() { DefaultCost = -1 }, "DefaultCost" },
        { new() { MaxBatchSize = 0 }, "MaxBatchSize" },
        { new() { MinBatchSize = 0 }, "MinBatchSize" },
        { new() { MaxBatchSize = 4, MinBatchSize = 5 }, "MinBatchSize" },
        { new() { BatchTimeout = TimeSpan.Zero }, "BatchTimeout" },
        { new() { BatchTimeout = TimeSpan.FromMilliseconds(-5) }, "BatchTimeout" },
        { new() { BatchTimeout = Timeout.InfiniteTimeSpan }, "BatchTimeout" },
        { new() { MaxQueueSize = 0 }, "MaxQueueSize" },
        { new() { MaxQueueSize = (1 << 30) + 1 }, "MaxQueueSize" },
        { new() { PrefetchBatches = 0 }, "PrefetchBatches" },
        { new() { Workers = 0 }, "Workers" },
        { new() { Workers = 100_000 }, "Workers" },
        { new TokenBatcherOptions<int> { TargetBatchTokens = 0, TargetBatchCost = 10 }, "TargetBatchTokens" },
        { new TokenBatcherOptions<int> { DefaultTokenEstimate = -2 }, "DefaultTokenEstimate" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void AnInvalidOptionIsRefusedAtConstructionNamingIt(DynamicBatcherOptions<int> options, string name)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new DynamicBatcher<int, int>(Echo, options));
        Assert.Equal(name, error.ParamName);
        Assert.Contains(name, error.Message);
        Assert.IsType<ArgumentOutOfRangeException>(error);
    }

    [Fact]
    public void ANullProcessFunctionOrTimeProviderIsRefused()
    {
        Assert.Equal("processFn", Assert.Throws<ArgumentNullException>(() => new DynamicBatcher<int, int>((ProcessFn<int, int>)null!)).ParamName);
        Assert.Equal("inferenceFn", Assert.Throws<ArgumentNullException>(() => new TokenBatcher<int, int>((ProcessFn<int, int>)null!)).ParamName);
        Assert.Equal("processEach", Assert.Throws<ArgumentNullException>(() => new DynamicBatcher<int, int>((ProcessEachFn<int, int>)null!)).ParamName);
        Assert.Equal("inferenceEach", Assert.Throws<ArgumentNullException>(() => new TokenBatcher<int, int>((ProcessEachFn<int, int>)null!)).ParamName);
        var error = Assert.Throws<ArgumentNullException>(
            () => new DynamicBatcher<int, int>(Echo, new DynamicBatcherOptions<int> { TimeProvider = null! }));
        Assert.Equal("TimeProvider", error.ParamName);
    }

    [Fact]
    public void DefaultsMatchTheReference()
    {
        var options = new TokenBatcherOptions<int>();
        Assert.Equal(32_000, options.TargetBatchCost);
        Assert.Equal(1, options.DefaultCost);
        Assert.Equal(256, options.MaxBatchSize);
        Assert.Equal(1, options.MinBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.BatchTimeout);
        Assert.Equal(5_000, options.MaxQueueSize);
        Assert.Equal(2, options.PrefetchBatches);
        Assert.Equal(1, options.Workers);
        Assert.Null(options.CostEstimator);
        Assert.Same(TimeProvider.System, options.TimeProvider);
        Assert.Null(options.TargetBatchTokens);
        Assert.Null(options.DefaultTokenEstimate);
        Assert.Null(options.TokenEstimator);
    }

    [Fact]
    public void ATokenAliasThatIsSetWinsOverItsCostTwin()
    {
        var settings = BatcherSettings<string>.From(
            new TokenBatcherOptions<string>
            {
                TargetBatchCost = 100,
                TargetBatchTokens = 7,
                DefaultCost = 3,
                DefaultTokenEstimate = 0,
                CostEstimator = _ => 1,
                TokenEstimator = s => s.Length,
            },
            tokenBatcher: true);
        Assert.Equal(7, settings.Rules.TargetCost);
        Assert.Equal(0, settings.DefaultCost);
        Assert.Equal(5, settings.Estimator!("hello"));
        Assert.Equal("TokenEstimator", settings.EstimatorName);
    }

    [Fact]
    public void AnUnsetTokenAliasLeavesItsCostTwin()
    {
        var settings = BatcherSettings<string>.From(
            new TokenBatcherOptions<string> { TargetBatchCost = 100, DefaultCost = 3, CostEstimator = _ => 9 },
            tokenBatcher: true);
        Assert.Equal(100, settings.Rules.TargetCost);
        Assert.Equal(3, settings.DefaultCost);
        Assert.Equal(9, settings.Estimator!("x"));
    }
}
