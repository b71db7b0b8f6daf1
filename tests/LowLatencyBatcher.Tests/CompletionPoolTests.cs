using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// The completion pool's stack during a resumption turn: the turn's thread rents back the completion it returned last
/// (still in its core's cache); one turn at a time owns the stack, no other thread ever rents from it, and no
/// completion stays out of the shared pool between turns.
/// </summary>
public class CompletionPoolTests
{
    [Fact]
    public void Inside_a_turn_its_thread_rents_back_the_completions_it_returned_last_first()
    {
        var pool = NewPool();
        var first = pool.Rent();
        var second = pool.Rent();
        bool owns = pool.BeginTurn();
        pool.Return(first);
        pool.Return(second);

        Assert.True(owns);
        Assert.Same(second, pool.Rent());
        Assert.Same(first, pool.Rent());
        pool.EndTurn(owns);
    }

    [Fact]
    public void Outside_a_turn_and_at_its_end_every_returned_completion_is_in_the_shared_pool()
    {
        var pool = NewPool();
        var outside = pool.Rent();
        var inside = pool.Rent();
        pool.Return(outside); // no turn: straight to the shared pool
        bool owns = pool.BeginTurn();
        pool.Return(inside); // kept on the stack until the turn ends
        pool.EndTurn(owns);

        var rentedElsewhere = OnNewThread(() => new[] { pool.Rent(), pool.Rent() });
        Assert.True(rentedElsewhere.ToHashSet(ReferenceEqualityComparer.Instance).SetEquals([outside, inside]));
    }

    [Fact]
    public void While_a_turn_owns_the_stack_no_other_turn_or_thread_takes_from_it()
    {
        var pool = NewPool();
        var kept = pool.Rent();
        bool owns = pool.BeginTurn();
        pool.Return(kept); // on the stack of this thread's turn

        var (otherOwns, rentedElsewhere) = OnNewThread(() =>
        {
            bool theirs = pool.BeginTurn();
            var rented = pool.Rent();
            pool.EndTurn(theirs);
            return (theirs, rented);
        });
        bool nestedOwns = pool.BeginTurn(); // a turn inside this turn, on the same thread

        Assert.True(owns);
        Assert.False(otherOwns);
        Assert.False(nestedOwns);
        Assert.NotSame(kept, rentedElsewhere);
        pool.EndTurn(nestedOwns); // does not end the outer turn's ownership
        Assert.Same(kept, pool.Rent());
        pool.EndTurn(owns);
        Assert.True(OnNewThread(pool.BeginTurn)); // the stack is free again
    }

    [Fact]
    public void A_turn_keeps_at_most_its_capacity_and_the_rest_goes_to_the_shared_pool()
    {
        var pool = NewPool();
        var rented = Enumerable.Range(0, CompletionPool<int>.LocalCapacity + 3).Select(_ => pool.Rent()).ToList();
        bool owns = pool.BeginTurn();
        foreach (var completion in rented)
        {
            pool.Return(completion);
        }

        // Another thread, while the turn still holds its stack: it finds only the three that did not fit.
        var fromShared = OnNewThread(() => Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList());
        pool.EndTurn(owns);

        Assert.True(fromShared.ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(rented.Skip(CompletionPool<int>.LocalCapacity)));
    }

    private static CompletionPool<int> NewPool() => new(maximumRetained: 64, new BatcherCounters(TimeProvider.System));

    private static T OnNewThread<T>(Func<T> action)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        Assert.Null(failure);
        return result!;
    }
}
