using LowLatencyBatcher.Packing.Rules;

namespace LowLatencyBatcher.Tests;

/// <summary>Pins each rule of <see cref="BatchRules"/> and <see cref="OrderRules"/>, one test per rule, named after it.</summary>
public class PackingRulesTests
{
    private static readonly BatchRules Rules = new(
        targetCost: 10, maxBatchSize: 4, minBatchSize: 2, batchTimeout: TimeSpan.FromSeconds(1), timestampFrequency: 1000);

    [Fact]
    public void Rule1_HardBudget_ARecordFitsOnlyWhileTheBatchStaysWithinTheTarget()
    {
        Assert.True(Rules.Fits(count: 1, sumCost: 6, maxCost: 6, cost: 4)); // exactly the target
        Assert.False(Rules.Fits(count: 1, sumCost: 6, maxCost: 6, cost: 5)); // one over: seals the batch instead
        Assert.True(Rules.Fits(count: 3, sumCost: 9, maxCost: 5, cost: 0)); // a zero-cost record always fits a non-full batch
    }

    [Fact]
    public void Rule1_HardBudget_ALoneRecordCostlierThanTheTargetStartsABatchAndFillsIt()
    {
        Assert.True(Rules.Fits(count: 0, sumCost: 0, maxCost: 0, cost: 1_000));
        Assert.Equal(DispatchReason.Full, Rules.FullReason(count: 1, sumCost: 1_000, maxCost: 1_000));
    }

    [Fact]
    public void Rule2_Full_ABatchIsFullWhenItsCostReachesTheTargetOrItHoldsMaxBatchSizeRecords()
    {
        Assert.Equal(DispatchReason.None, Rules.FullReason(count: 3, sumCost: 9, maxCost: 3));
        Assert.Equal(DispatchReason.Full, Rules.FullReason(count: 3, sumCost: 10, maxCost: 4));
        Assert.Equal(DispatchReason.Size, Rules.FullReason(count: 4, sumCost: 4, maxCost: 1));
    }

    [Fact]
    public void Rule1_HardBudget_PaddedCostIsTheCostliestRecordTimesTheCountPlusThePerBatchCost()
    {
        var padded = new BatchRules(
            targetCost: 100, maxBatchSize: 64, minBatchSize: 1, batchTimeout: TimeSpan.FromSeconds(1), timestampFrequency: 1000,
            costModel: CostModel.Padded, perBatchCost: 4);
        Assert.Equal(3 * 20 + 4, padded.CostOf(count: 3, sumCost: 31, maxCost: 20));
        Assert.True(padded.Fits(count: 3, sumCost: 31, maxCost: 20, cost: 24)); // 4 x 24 + 4 = 100
        Assert.False(padded.Fits(count: 3, sumCost: 31, maxCost: 20, cost: 25)); // a longer record pads every row
        Assert.False(padded.Fits(count: 4, sumCost: 40, maxCost: 20, cost: 1)); // 5 x 20 + 4 = 104
        Assert.Equal(DispatchReason.Full, padded.FullReason(count: 1, sumCost: 96, maxCost: 96)); // 96 + 4 reaches the target
        Assert.Equal(0, padded.CostOf(count: 0, sumCost: 0, maxCost: 0));
    }

    [Fact]
    public void Rule1_HardBudget_ThePerBatchCostCountsUnderTheSumModelToo()
    {
        var sum = new BatchRules(10, 8, 1, TimeSpan.FromSeconds(1), 1000, CostModel.Sum, perBatchCost: 3);
        Assert.True(sum.Fits(count: 1, sumCost: 4, maxCost: 4, cost: 3)); // 4 + 3 + 3 = 10
        Assert.False(sum.Fits(count: 1, sumCost: 4, maxCost: 4, cost: 4));
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

    [Fact]
    public void Rule3_EarlyDispatch_AnEagerBatchWaitsForCallersBeingResumedAtMostResumeWait()
    {
        var rules = new BatchRules(
            targetCost: 10, maxBatchSize: 4, minBatchSize: 1, batchTimeout: TimeSpan.FromSeconds(1), timestampFrequency: 1_000_000);
        long wait = (long)BatchRules.ResumeWait.TotalMicroseconds;

        Assert.Equal(
            DispatchReason.None,
            rules.EarlyReason(count: 1, firstArrival: 0, now: wait - 1, stopping: false, workerIdle: true, prefetchEmpty: true, callersResuming: true));
        Assert.Equal(
            DispatchReason.Eager,
            rules.EarlyReason(count: 1, firstArrival: 0, now: wait, stopping: false, workerIdle: true, prefetchEmpty: true, callersResuming: true));
        Assert.Equal(
            DispatchReason.Eager,
            rules.EarlyReason(count: 1, firstArrival: 0, now: 0, stopping: false, workerIdle: true, prefetchEmpty: true, callersResuming: false));
        Assert.Equal(wait, rules.ResumeWaitEnds(0));
    }
}
