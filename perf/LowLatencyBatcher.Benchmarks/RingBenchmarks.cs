using System.Collections.Concurrent;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;

namespace LowLatencyBatcher.Benchmarks;

/// <summary>
/// Many producers, one consumer: the intake ring against the BCL queues a user would reach for, carrying the intake's
/// own item type. Every contender waits the same way (try, then <see cref="SpinWait"/> without sleeping), so the
/// figures compare the data structures, not waiting strategies. Bounded ones hold <see cref="Capacity"/> items.
/// </summary>
[MemoryDiagnoser]
[ThreadingDiagnoser]
public class IntakeRingBenchmarks
{
    private const int Items = 1 << 20;
    private const int Capacity = 1024;

    [Params(1, 2, 4)]
    public int Producers { get; set; }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public long IntakeRing()
    {
        var ring = new IntakeRing<IntakeItem<int, int>>(Capacity);
        var threads = StartProducers(() =>
        {
            var spinner = default(SpinWait);
            for (int i = 0; i < Items / Producers; i++)
            {
                while (ring.TryEnqueue(Item(i)) != EnqueueOutcome.Enqueued)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
        });

        long sum = 0;
        var wait = default(SpinWait);
        for (int taken = 0; taken < Items;)
        {
            int run = 0;
            while (ring.TryDequeue(out var item))
            {
                sum += item.Cost;
                run++;
            }

            if (run == 0)
            {
                wait.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            ring.PublishHead(); // the consumer publishes its head once per drained run, as the packing thread does
            taken += run;
        }

        Join(threads);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long BoundedChannel()
    {
        var channel = Channel.CreateBounded<IntakeItem<int, int>>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = Producers == 1,
        });
        var threads = StartProducers(() =>
        {
            var spinner = default(SpinWait);
            for (int i = 0; i < Items / Producers; i++)
            {
                while (!channel.Writer.TryWrite(Item(i)))
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
        });

        long sum = Consume(static (ChannelReader<IntakeItem<int, int>> reader, out IntakeItem<int, int> item) => reader.TryRead(out item), channel.Reader);
        Join(threads);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long ConcurrentQueue()
    {
        var queue = new ConcurrentQueue<IntakeItem<int, int>>();
        var threads = StartProducers(() =>
        {
            for (int i = 0; i < Items / Producers; i++)
            {
                queue.Enqueue(Item(i)); // unbounded: it never waits
            }
        });

        long sum = Consume(static (ConcurrentQueue<IntakeItem<int, int>> q, out IntakeItem<int, int> item) => q.TryDequeue(out item), queue);
        Join(threads);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long BlockingCollection()
    {
        using var collection = new BlockingCollection<IntakeItem<int, int>>(Capacity);
        var threads = StartProducers(() =>
        {
            var spinner = default(SpinWait);
            for (int i = 0; i < Items / Producers; i++)
            {
                while (!collection.TryAdd(Item(i)))
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
        });

        long sum = Consume(static (BlockingCollection<IntakeItem<int, int>> c, out IntakeItem<int, int> item) => c.TryTake(out item), collection);
        Join(threads);
        return sum;
    }

    private static IntakeItem<int, int> Item(int i) => new(i, null!, 0, 1, i, 0);

    private delegate bool TryTake<TQueue>(TQueue queue, out IntakeItem<int, int> item);

    private static long Consume<TQueue>(TryTake<TQueue> tryTake, TQueue queue)
    {
        long sum = 0;
        var spinner = default(SpinWait);
        for (int taken = 0; taken < Items;)
        {
            if (tryTake(queue, out var item))
            {
                sum += item.Cost;
                taken++;
            }
            else
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        return sum;
    }

    private Thread[] StartProducers(Action produce)
    {
        var threads = new Thread[Producers];
        for (int p = 0; p < Producers; p++)
        {
            threads[p] = new Thread(() => produce()) { IsBackground = true };
            threads[p].Start();
        }

        return threads;
    }

    private static void Join(Thread[] threads)
    {
        foreach (var thread in threads)
        {
            thread.Join();
        }
    }
}

/// <summary>
/// One producer, many consumers: the prefetch (batch) ring against the BCL queues, carrying references as it carries
/// batches. Same waiting rule as <see cref="IntakeRingBenchmarks"/>; each consumer stops at an end marker.
/// </summary>
[MemoryDiagnoser]
[ThreadingDiagnoser]
public class BatchRingBenchmarks
{
    private const int Items = 1 << 20;
    private const int Capacity = 1024;
    private static readonly object Payload = new();
    private static readonly object End = new();

    [Params(1, 2, 4)]
    public int Consumers { get; set; }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public long BatchRing()
    {
        var ring = new BatchRing<object>(Capacity);
        return Run(
            item =>
            {
                var spinner = default(SpinWait);
                while (!ring.TryEnqueue(item))
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            },
            () => ring.TryDequeue(out var item) ? item : null);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long BoundedChannel()
    {
        var channel = Channel.CreateBounded<object>(new BoundedChannelOptions(Capacity)
        {
            SingleWriter = true,
            SingleReader = Consumers == 1,
        });
        return Run(
            item =>
            {
                var spinner = default(SpinWait);
                while (!channel.Writer.TryWrite(item))
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            },
            () => channel.Reader.TryRead(out var item) ? item : null);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long ConcurrentQueue()
    {
        var queue = new ConcurrentQueue<object>();
        return Run(queue.Enqueue, () => queue.TryDequeue(out var item) ? item : null);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long BlockingCollection()
    {
        using var collection = new BlockingCollection<object>(Capacity);
        return Run(
            item =>
            {
                var spinner = default(SpinWait);
                while (!collection.TryAdd(item))
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            },
            () => collection.TryTake(out var item) ? item : null);
    }

    private long Run(Action<object> enqueue, Func<object?> tryDequeue)
    {
        var counts = new long[Consumers];
        var threads = new Thread[Consumers];
        for (int c = 0; c < Consumers; c++)
        {
            int index = c;
            threads[c] = new Thread(() =>
            {
                long count = 0;
                var spinner = default(SpinWait);
                while (true)
                {
                    object? item = tryDequeue();
                    if (item is null)
                    {
                        spinner.SpinOnce(sleep1Threshold: -1);
                        continue;
                    }

                    if (ReferenceEquals(item, End))
                    {
                        break;
                    }

                    count++;
                }

                counts[index] = count;
            })
            { IsBackground = true };
            threads[c].Start();
        }

        for (int i = 0; i < Items; i++)
        {
            enqueue(Payload);
        }

        for (int c = 0; c < Consumers; c++)
        {
            enqueue(End);
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        long total = counts.Sum();
        return total == Items ? total : throw new InvalidOperationException($"{total} items consumed of {Items}");
    }
}
