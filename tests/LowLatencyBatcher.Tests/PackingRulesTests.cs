using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Tests;

/// <summary>Pins each rule of <see cref="PackingRules"/>, one test per rule, named after it.</summary>
public class PackingRulesTests
{
    private static readonly PackingRules Rules = new(
        targetCost: 10, maxBatchSize: 4, minBatchSize: 2, batchTimeout: TimeSpan.FromSeconds(1), timestampFrequency: 1000);

    [Fact]
    public void Rule1_HardBudget_ARecordFitsOnlyWhileTheBatchStaysWithinTheTarget()
    {
        Assert.True(Rules.Fits(count: 1, batchCost: 6, cost: 4)); // exactly the target
        Assert.False(Rules.Fits(count: 1, batchCost: 6, cost: 5)); // one over: seals the batch instead
        Assert.True(Rules.Fits(count: 3, batchCost: 9, cost: 0)); // a zero-cost record always fits a non-full batch
    }

    [Fact]
    public void Rule1_HardBudget_ALoneRecordCostlierThanTheTargetStartsABatchAndFillsIt()
    {
        Assert.True(Rules.Fits(count: 0, batchCost: 0, cost: 1_000));
        Assert.Equal(DispatchReason.Full, Rules.FullReason(count: 1, batchCost: 1_000));
    }

    [Fact]
    public void Rule2_Full_ABatchIsFullWhenItsCostReachesTheTargetOrItHoldsMaxBatchSizeRecords()
    {
        Assert.Equal(DispatchReason.None, Rules.FullReason(count: 3, batchCost: 9));
        Assert.Equal(DispatchReason.Full, Rules.FullReason(count: 3, batchCost: 10));
        Assert.Equal(DispatchReason.Size, Rules.FullReason(count: 4, batchCost: 4));
    }

    [Fact]
    public void Rule3_EarlyDispatch_AStopFlushesAtOnce()
    {
        Assert.Equal(
            DispatchReason.Shutdown,
            Rules.EarlyReason(count: 1, firstArrival: 0, now: 0, stopping: true, workerIdle: false, prefetchEmpty: false));
    }

    [Fact]
    public void Rule3_EarlyDispatch_TheTimeoutSendsWhateverTheBatchHolds()
    {
        Assert.Equal(
            DispatchReason.None,
            Rules.EarlyReason(count: 1, firstArrival: 100, now: 1_099, stopping: false, workerIdle: false, prefetchEmpty: false));
        Assert.Equal(
            DispatchReason.Timeout,
            Rules.EarlyReason(count: 1, firstArrival: 100, now: 1_100, stopping: false, workerIdle: false, prefetchEmpty: false));
        Assert.Equal(1_100, Rules.Deadline(100));
    }

    [Fact]
    public void Rule3_EarlyDispatch_EagerNeedsMinBatchSizeAnIdleWorkerAndAnEmptyPrefetchRing()
    {
        Assert.Equal(
            DispatchReason.Eager,
            Rules.EarlyReason(count: 2, firstArrival: 0, now: 0, stopping: false, workerIdle: true, prefetchEmpty: true));
        Assert.Equal(
            DispatchReason.None,
            Rules.EarlyReason(count: 1, firstArrival: 0, now: 0, stopping: false, workerIdle: true, prefetchEmpty: true));
        Assert.Equal(
            DispatchReason.None,
            Rules.EarlyReason(count: 2, firstArrival: 0, now: 0, stopping: false, workerIdle: false, prefetchEmpty: true));
        Assert.Equal(
            DispatchReason.None,
            Rules.EarlyReason(count: 2, firstArrival: 0, now: 0, stopping: false, workerIdle: true, prefetchEmpty: false));
    }
}
