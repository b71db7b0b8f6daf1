using System.Collections.Concurrent;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// The idle fast path under bursty load: producers alternate short bursts and pauses, so records keep arriving both at
/// an idle batcher (run alone on the submitter's thread) and at a busy one (through the packing thread), while the
/// process function mixes synchronous and asynchronous completion, throws now and then, and callers cancel a few.
/// </summary>
/// <remarks>
/// Rules: every record completes exactly once, with its own result, its batch's fault, or its own cancellation; never
/// more than <c>Workers</c> process calls at once; each producer's records reach the process function in submission
/// order (one worker, so calls never overlap); the counts in the stats equal what the callers saw; and both paths ran.
/// </remarks>
public class IdleFastPathStressTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 16, 40_000, 31)]
    [InlineData(3, 16, 40_000, 32)]
    public async Task EveryRecordCompletesOnceWhetherItRanAloneOrQueued(int workers, int producers, int records, int seed)
    {
        var violations = new Violations();
        var tally = new OutcomeTally(records);
        var seen = new ConcurrentQueue<(int Producer, int Sequence)>[producers];
        for (int p = 0; p < producers; p++)
        {
            seen[p] = new ConcurrentQueue<(int, int)>();
        }

        int inside = 0;
        int mostInside = 0;
        long calls = 0;
        long cancelled = 0;
        long doneAtOnce = 0; // ran alone, synchronously: complete when the submit returned
        var batcher = new DynamicBatcher<int, long>(
            async (batch, token) =>
            {
                int now = Interlocked.Increment(ref inside);
                int before;
                while (now > (before = Volatile.Read(ref mostInside)) && Interlocked.CompareExchange(ref mostInside, now, before) != before)
                {
                }

                try
                {
                    long call = Interlocked.Increment(ref calls);
                    foreach (int id in batch)
                    {
                        seen[id % producers].Enqueue((id % producers, id / producers));
                    }

                    if (call % 5 == 0)
                    {
                        await Task.Yield(); // completes asynchronously, on a pool thread
                    }

                    if (call % 37 == 0)
                    {
                        throw new BatchFault();
                    }

                    return batch.Select(id => (long)id * 3).ToArray();
                }
                finally
                {
                    Interlocked.Decrement(ref inside);
                }
            },
            new DynamicBatcherOptions<int> { Workers = workers, MaxBatchSize = 32, MaxQueueSize = 256 });
        await batcher.StartAsync();

        // Record ids interleave the producers (id % producers), so each producer's sequence is id / producers.
        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var random = new Random(HashCode.Combine(seed, p));
            var inFlight = new Queue<Task>();
            for (int sequence = 0; sequence * producers + p < records; sequence++)
            {
                int id = sequence * producers + p;
                if (random.Next(8) == 0)
                {
                    while (inFlight.Count > 0)
                    {
                        await inFlight.Dequeue();
                    }

                    await Task.Delay(random.Next(2)); // a pause: the batcher goes idle
                }

                if (random.Next(50) == 0)
                {
                    using var cancellation = new CancellationTokenSource();
                    var task = batcher.SubmitAsync(id, cancellationToken: cancellation.Token);
                    cancellation.Cancel();
                    inFlight.Enqueue(AwaitCancellable(task, id));
                }
                else
                {
                    var task = batcher.SubmitAsync(id);
                    if (task.IsCompleted)
                    {
                        Interlocked.Increment(ref doneAtOnce);
                    }

                    inFlight.Enqueue(tally.Await(task, id, (long)id * 3, violations));
                }

                if (inFlight.Count >= 1 + random.Next(4))
                {
                    await inFlight.Dequeue();
                }
            }

            while (inFlight.Count > 0)
            {
                await inFlight.Dequeue();
            }
        }))).Within(Bounded.Run, "the producers");

        async Task AwaitCancellable(ValueTask<long> task, int id)
        {
            try
            {
                long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
                if (value != (long)id * 3)
                {
                    violations.Add($"record {id} got {value}, not its result");
                }

                tally.Count(id);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                tally.Count(id);
            }
            catch (BatchFault)
            {
                tally.Count(id);
            }
            catch (Exception e)
            {
                violations.Add($"record {id} failed with {e.GetType().Name}: {e.Message}");
            }
        }

        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        for (int id = 0; id < records; id++)
        {
            if (tally.CompletionsOf(id) != 1)
            {
                violations.Add($"record {id} completed {tally.CompletionsOf(id)} times");
            }
        }

        if (Volatile.Read(ref mostInside) > workers)
        {
            violations.Add($"{mostInside} process calls at once with {workers} workers");
        }

        if (workers == 1)
        {
            for (int p = 0; p < producers; p++)
            {
                int last = -1;
                foreach (var (_, sequence) in seen[p])
                {
                    if (sequence <= last)
                    {
                        violations.Add($"producer {p}: record {sequence} reached the process function after record {last}");
                    }

                    last = sequence;
                }
            }
        }

        StressKit.CheckStats(violations, stats, observer: null);
        violations.Expect("submitted", records, stats.TotalSubmitted);
        violations.Expect("cancelled: stats = callers", Interlocked.Read(ref cancelled), stats.TotalCancelled);
        if (doneAtOnce == 0 || doneAtOnce == records)
        {
            violations.Add($"both paths must run: {doneAtOnce:N0} of {records:N0} records were done when their submit returned");
        }

        output.WriteLine($"{records:N0} records, {workers} workers: {StressKit.Reasons(stats)}; {tally.Results:N0} results, " +
            $"{tally.Faults:N0} faults, {cancelled:N0} cancelled, {doneAtOnce:N0} done when submitted; at most {mostInside} calls at once");
        violations.AssertNone();
    }
}
