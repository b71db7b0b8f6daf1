using System.Diagnostics;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Linearizability;

/// <summary>
/// Long runs of the rings at full speed, where the sampled sequences of <see cref="RingLinearizabilityTests"/> are
/// short: millions of hand-overs through tiny rings, so that every slot is reused constantly while the other side is
/// in the middle of its own step. Each item is checked to arrive exactly once and in order.
/// </summary>
public class RingHammerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>A side that makes no progress for this long is stuck: the run stops and fails instead of hanging.</summary>
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(5);

    private sealed record Item(int Producer, int Sequence);

    [Theory]
    [InlineData(1, 4, 100_000)]
    [InlineData(2, 4, 100_000)]
    [InlineData(3, 8, 50_000)]
    [InlineData(64, 8, 50_000)]
    public void IntakeRing_EveryAcceptedItemIsDrainedOnceInEachProducersOrder(int limit, int producers, int perProducer)
    {
        var ring = new IntakeRing<Item>(limit);
        var failures = new List<string>();
        var next = new int[producers];
        long taken = 0;
        var deadline = Stopwatch.StartNew();
        var consumer = new Thread(() =>
        {
            var random = new Random(limit);
            int run = 0;
            while (!ring.IsDrainedAfterClose && deadline.Elapsed < Bound)
            {
                if (ring.TryDequeue(out var item))
                {
                    taken++;
                    if (item is null)
                    {
                        Fail(failures, "took a null item");
                        continue;
                    }

                    if (item.Sequence != next[item.Producer])
                    {
                        Fail(failures, $"producer {item.Producer}: expected {next[item.Producer]}, got {item.Sequence}");
                    }

                    next[item.Producer] = item.Sequence + 1;
                    if (++run >= random.Next(1, 8))
                    {
                        ring.PublishHead();
                        run = 0;
                    }
                }
                else
                {
                    ring.PublishHead();
                    run = 0;
                    Thread.Yield();
                }
            }
        });
        consumer.IsBackground = true;
        consumer.Start();
        var threads = Enumerable.Range(0, producers).Select(p => new Thread(() =>
        {
            var spinner = default(SpinWait);
            for (int s = 0; s < perProducer && deadline.Elapsed < Bound;)
            {
                if (ring.TryEnqueue(new Item(p, s)) == EnqueueOutcome.Enqueued)
                {
                    s++;
                    spinner = default;
                }
                else
                {
                    spinner.SpinOnce();
                }
            }
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.IsBackground = true;
            thread.Start();
        }

        foreach (var thread in threads)
        {
            Assert.True(thread.Join(Bound), "a producer hung");
        }

        ring.Close();
        Assert.True(consumer.Join(Bound), "the consumer never drained the closed ring");
        Assert.Equal(EnqueueOutcome.Closed, ring.TryEnqueue(new Item(0, -1)));
        output.WriteLine($"limit {limit}: {taken:N0} items from {producers} producers in {deadline.Elapsed.TotalSeconds:F1} s");
        Assert.Empty(failures);
        Assert.Equal((long)producers * perProducer, taken);
        Assert.Equal(taken, ring.AcceptedCount);
        Assert.All(next, n => Assert.Equal(perProducer, n));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    [InlineData(4, 4)]
    public void BatchRing_EveryItemIsTakenOnceAndEachConsumerSeesThemInOrder(int limit, int consumers)
    {
        const int Items = 300_000;
        var ring = new BatchRing<Item>(limit);
        var seen = new int[Items];
        var failures = new List<string>();
        var deadline = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, consumers).Select(c => new Thread(() =>
        {
            int last = -1;
            var idle = Stopwatch.StartNew();
            while (!(ring.IsCompleted && (ring.IsEmpty || idle.Elapsed > Stall)))
            {

                if (ring.TryDequeue(out var item))
                {
                    if (item is null)
                    {
                        Fail(failures, $"consumer {c}: took a null item after {last}");
                        continue;
                    }

                    Interlocked.Increment(ref seen[item.Sequence]);
                    if (item.Sequence <= last)
                    {
                        Fail(failures, $"consumer {c}: {item.Sequence} after {last}");
                    }

                    last = item.Sequence;
                    idle.Restart();
                }
                else
                {
                    Thread.SpinWait(20);
                }
            }
        })).ToArray();
        foreach (var worker in workers)
        {
            worker.IsBackground = true;
            worker.Start();
        }

        var spinner = default(SpinWait);
        var sinceProgress = Stopwatch.StartNew();
        int published = 0;
        while (published < Items && sinceProgress.Elapsed < Stall)
        {
            if (ring.TryEnqueue(new Item(0, published)))
            {
                published++;
                spinner = default;
                sinceProgress.Restart();
            }
            else
            {
                spinner.SpinOnce();
            }
        }

        ring.Complete();
        foreach (var worker in workers)
        {
            Assert.True(worker.Join(Bound), "a consumer hung");
        }

        Assert.True(published == Items, $"the ring stopped taking items after {published:N0} (count {ring.Count})");

        output.WriteLine($"limit {limit}: {Items:N0} items to {consumers} consumers in {deadline.Elapsed.TotalSeconds:F1} s");
        Assert.Empty(failures);
        Assert.True(seen.All(n => n == 1), $"items taken other than once: " +
            string.Join(", ", seen.Select((n, i) => (n, i)).Where(x => x.n != 1).Take(10).Select(x => $"#{x.i} x{x.n}")));
    }

    private static void Fail(List<string> failures, string failure)
    {
        lock (failures)
        {
            if (failures.Count < 20)
            {
                failures.Add(failure);
            }
        }
    }
}
