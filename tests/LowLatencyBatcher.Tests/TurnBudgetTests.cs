using System.Diagnostics;
using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// The budget of a resumption turn reads the clock only at checkpoints: spaced out while continuations are cheap, after
/// every chunk once they are costly. Real time, with bounds hundreds of milliseconds wide.
/// </summary>
public class TurnBudgetTests
{
    private static readonly long OneSecond = Stopwatch.Frequency;

    [Fact]
    public void CheapContinuationsSpaceTheChecksOutUpToTheMostAllowed()
    {
        var budget = new TurnBudget(OneSecond, progress: 100, firstCheckAfter: 4);
        Assert.False(budget.IsSpent(103)); // before the first checkpoint: no clock read at all
        Assert.False(budget.IsSpent(104)); // the first check: four continuations took microseconds of the second

        Thread.Sleep(1_100);
        Assert.False(budget.IsSpent(167)); // the budget is gone, but the next checkpoint is 64 continuations on
        Assert.True(budget.IsSpent(168));
    }

    [Fact]
    public void CostlyContinuationsAreCheckedAfterEachOne()
    {
        var budget = new TurnBudget(OneSecond, progress: 0, firstCheckAfter: 4);
        Thread.Sleep(600);
        Assert.False(budget.IsSpent(4)); // four continuations took ~0.6 s: what is left affords one or two more

        Thread.Sleep(500);
        Assert.True(budget.IsSpent(5));
    }
}
