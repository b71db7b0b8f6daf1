using System.Diagnostics;
using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// The budget of a resumption turn: costly continuations end the turn once its budget is used, cheap ones go on up to
/// the cap, and the clock is read only at checkpoints, spaced out while continuations are cheap. Real time, with
/// budgets of hundreds of milliseconds so that the machine's hiccups stay well inside the bounds.
/// </summary>
public class TurnBudgetTests
{
    private static readonly long Millisecond = Stopwatch.Frequency / 1_000;

    [Fact]
    public void CheapContinuationsSpaceTheChecksOutAndGoOnPastTheBudgetUntilTheCap()
    {
        var budget = new TurnBudget(500 * Millisecond, capTicks: 1_500 * Millisecond, costlyTicks: 200 * Millisecond, progress: 100, firstCheckAfter: 4);
        Assert.False(budget.IsSpent(103)); // before the first checkpoint: no clock read at all
        Assert.False(budget.IsSpent(104)); // the first check: four continuations took microseconds

        Thread.Sleep(700);
        Assert.False(budget.IsSpent(167)); // not a checkpoint yet: the next is at most 64 continuations on
        Assert.False(budget.IsSpent(100_000)); // past the budget, but ~7 µs a continuation: cheap, so the turn goes on

        Thread.Sleep(1_000);
        Assert.True(budget.IsSpent(100_064)); // past the cap
    }

    [Fact]
    public void CostlyContinuationsEndTheTurnOnceTheBudgetIsUsed()
    {
        var budget = new TurnBudget(200 * Millisecond, capTicks: 10_000 * Millisecond, costlyTicks: 50 * Millisecond, progress: 0, firstCheckAfter: 4);
        Thread.Sleep(300);
        Assert.True(budget.IsSpent(4)); // four continuations took ~75 ms each, past the 200 ms budget
    }

    [Fact]
    public void CostlyContinuationsAreCheckedAfterEachOne()
    {
        var budget = new TurnBudget(1_000 * Millisecond, capTicks: 10_000 * Millisecond, costlyTicks: 50 * Millisecond, progress: 0, firstCheckAfter: 4);
        Thread.Sleep(600);
        Assert.False(budget.IsSpent(4)); // four continuations took ~0.6 s: what is left affords one or two more

        Thread.Sleep(500);
        Assert.True(budget.IsSpent(5));
    }
}
