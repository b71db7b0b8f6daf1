using LowLatencyBatcher.Completion;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// The completion pool's per-thread stack: a thread rents back the completion it returned last (still in its core's
/// cache), and never one of another pool.
/// </summary>
public class CompletionPoolTests
{
    [Fact]
    public void A_thread_rents_back_the_completions_it_returned_last_first()
    {
        var pool = NewPool();
        var first = pool.Rent();
        var second = pool.Rent();
        pool.Return(first);
        pool.Return(second);

        Assert.Same(second, pool.Rent());
        Assert.Same(first, pool.Rent());
    }

    [Fact]
    public void A_thread_that_returns_to_another_pool_hands_the_first_pools_completions_back_to_it()
    {
        var one = NewPool();
        var other = NewPool();
        RecordCompletion<int>? kept = null, rentedFromOther = null, returnedToOther = null, rentedBack = null;
        OnNewThread(() =>
        {
            kept = one.Rent();
            one.Return(kept); // on this thread's stack, for `one`
            rentedFromOther = other.Rent();
            returnedToOther = rentedFromOther;
            other.Return(returnedToOther); // the stack now serves `other`: `kept` went back to `one`'s shared pool
            rentedBack = other.Rent();
        });

        Assert.NotSame(kept, rentedFromOther);
        Assert.Same(returnedToOther, rentedBack);
        RecordCompletion<int>? elsewhere = null;
        OnNewThread(() => elsewhere = one.Rent()); // a thread with no stack rents from the shared pool
        Assert.Same(kept, elsewhere);
    }

    [Fact]
    public void A_thread_stack_holds_at_most_its_capacity_and_the_rest_goes_to_the_shared_pool()
    {
        var pool = NewPool();
        var rented = new List<RecordCompletion<int>>();
        var fromShared = new HashSet<RecordCompletion<int>>(ReferenceEqualityComparer.Instance);
        OnNewThread(() =>
        {
            for (int i = 0; i < CompletionPool<int>.LocalCapacity + 3; i++)
            {
                rented.Add(pool.Rent());
            }

            foreach (var completion in rented)
            {
                pool.Return(completion);
            }
        });
        OnNewThread(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                fromShared.Add(pool.Rent());
            }
        });

        // The last three returned found the stack full: another thread rents exactly those from the shared pool.
        Assert.True(fromShared.SetEquals(rented.Skip(CompletionPool<int>.LocalCapacity)));
    }

    private static CompletionPool<int> NewPool() => new(maximumRetained: 64, new BatcherCounters(TimeProvider.System));

    // A fresh thread: its stack is empty and belongs to no pool, whatever other tests ran on the pool's threads.
    private static void OnNewThread(Action action)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        Assert.Null(failure);
    }
}
