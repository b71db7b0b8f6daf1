using System.Collections.Concurrent;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Races;

/// <summary>
/// Stops and disposals racing submitters (some of them blocked on a full intake), overlapping stops, and aborted
/// stops while a process call hangs. Each race is repeated with varied timing; every wait is bounded, so a hang fails.
/// After each round: every submit was either refused with the right exception or completed with its own result, and
/// the process function saw exactly the accepted records.
/// </summary>
public class ShutdownRaceTests(ITestOutputHelper output)
{
    private const int Rounds = 40;
    private const int Submitters = 16;

    public enum Ending
    {
        Stop,
        Dispose,
        DoubleStop,
        StopAndDispose,
    }

    [Theory]
    [InlineData(Ending.Stop)]
    [InlineData(Ending.Dispose)]
    [InlineData(Ending.DoubleStop)]
    [InlineData(Ending.StopAndDispose)]
    public async Task StopOrDisposeRacingSubmittersLosesNothingAndRefusesCleanly(Ending ending)
    {
        long accepted = 0, refused = 0, blockedAtStop = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var random = new Random(round);
            var processed = new ConcurrentDictionary<int, int>();
            int slowEvery = random.Next(1, 4);
            var batcher = new DynamicBatcher<int, int>(
                async (batch, _) =>
                {
                    foreach (int id in batch)
                    {
                        processed.AddOrUpdate(id, 1, (_, n) => n + 1);
                    }

                    if (batch[0] % slowEvery == 0)
                    {
                        await Task.Delay(1);
                    }

                    return batch.Select(id => -id).ToArray();
                },
                new DynamicBatcherOptions<int>
                {
                    MaxQueueSize = random.Next(1, 8), // tiny: submitters block on a full intake
                    MaxBatchSize = random.Next(1, 6),
                    PrefetchBatches = random.Next(1, 3),
                    Workers = random.Next(1, 3),
                    BatchTimeout = TimeSpan.FromMilliseconds(1),
                });
            await batcher.StartAsync();
            int nextId = 0;
            using var stopSubmitting = new CancellationTokenSource();
            var submitters = Enumerable.Range(0, Submitters).Select(_ => Task.Run(async () =>
            {
                var outcomes = new List<(int Id, Task<int> Result)>();
                while (!stopSubmitting.IsCancellationRequested)
                {
                    int id = Interlocked.Increment(ref nextId);
                    try
                    {
                        outcomes.Add((id, batcher.SubmitAsync(id).AsTask()));
                    }
                    catch (Exception e)
                    {
                        outcomes.Add((id, Task.FromException<int>(e)));
                        break; // refused at once: the batcher is stopping or disposed
                    }

                    if (outcomes.Count % 4 == 0)
                    {
                        await Task.WhenAny(outcomes[^1].Result, Task.Delay(1));
                    }
                }

                return outcomes;
            })).ToArray();

            await Task.Delay(random.Next(0, 15));
            blockedAtStop += batcher.Stats.QueueDepth >= 1 ? 1 : 0;
            Task ended = ending switch
            {
                Ending.Stop => batcher.StopAsync(),
                Ending.Dispose => batcher.DisposeAsync().AsTask(),
                Ending.DoubleStop => Task.WhenAll(Task.Run(() => batcher.StopAsync()), Task.Run(() => batcher.StopAsync())),
                _ => Task.WhenAll(Task.Run(() => batcher.StopAsync()), Task.Run(() => batcher.DisposeAsync().AsTask())),
            };
            try
            {
                await ended.Within(Bounded.Soon, $"round {round}: {ending}");
            }
            catch (TimeoutException hung)
            {
                throw new TimeoutException($"{hung.Message} Engine: {batcher.DescribeEngine()}", hung);
            }

            stopSubmitting.Cancel();
            var all = (await Task.WhenAll(submitters).Within(Bounded.Soon, "the submitters")).SelectMany(o => o).ToList();

            int ok = 0;
            foreach (var (id, result) in all)
            {
                try
                {
                    Assert.Equal(-id, await result.Within(Bounded.Soon, $"round {round}: record {id}"));
                    ok++;
                    Assert.Equal(1, processed.GetValueOrDefault(id));
                }
                catch (ObjectDisposedException) when (ending is Ending.Dispose or Ending.StopAndDispose)
                {
                    Assert.False(processed.ContainsKey(id), $"refused record {id} was processed");
                    refused++;
                }
                catch (InvalidOperationException e) when (e.Message.Contains("stopping") || e.Message.Contains("not running"))
                {
                    Assert.False(processed.ContainsKey(id), $"refused record {id} was processed");
                    refused++;
                }
            }

            accepted += ok;
            var stats = batcher.Stats;
            Assert.Equal(ok, stats.TotalSubmitted);
            Assert.Equal(ok, stats.TotalCompleted);
            Assert.Equal(ok, processed.Count);
            Assert.False(batcher.IsRunning);
            Assert.ThrowsAny<Exception>(() => batcher.SubmitAsync(-1)); // refused after the end, whatever the ending
            if (ending is Ending.Stop or Ending.DoubleStop)
            {
                await batcher.StartAsync(); // a stopped batcher runs again
                Assert.Equal(-7, await batcher.SubmitAsync(7).Soonish("a submit after the restart"));
            }

            await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "the final dispose");
            Assert.Throws<ObjectDisposedException>(() => batcher.SubmitAsync(-2));
            await Assert.ThrowsAsync<ObjectDisposedException>(() => batcher.StartAsync());
        }

        output.WriteLine($"{ending}: {Rounds} rounds, {accepted:N0} records completed, {refused:N0} submits refused, " +
            $"{blockedAtStop} rounds stopped with records queued");
        Assert.True(refused > 0, "some submits raced the end");
        Assert.True(accepted > 0, "some submits were accepted");
    }

    [Fact]
    public async Task AStopWhoseTokenIsCancelledWhileProcessCallsHangCompletesEveryRecordAndThrows()
    {
        long processedOk = 0, cancelled = 0, refused = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var random = new Random(1_000 + round);
            int hangAfter = random.Next(0, 2); // batches that go through before the process function starts hanging
            int calls = 0;
            bool hanging = true;
            var hang = new TaskCompletionSource<IReadOnlyList<int>>(TaskCreationOptions.RunContinuationsAsynchronously);
            CancellationToken seen = default;
            var batcher = new DynamicBatcher<int, int>(
                (batch, token) =>
                {
                    seen = token;
                    if (Volatile.Read(ref hanging) && Interlocked.Increment(ref calls) > hangAfter)
                    {
                        return new ValueTask<IReadOnlyList<int>>(hang.Task); // ignores its token
                    }

                    return ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(i => -i).ToArray());
                },
                new DynamicBatcherOptions<int>
                {
                    MaxQueueSize = random.Next(2, 8), // some of the 12 submitters block on the full intake
                    MaxBatchSize = random.Next(1, 4), // at least 4 batches: the process function surely hangs
                    PrefetchBatches = random.Next(1, 3),
                    Workers = random.Next(1, 3),
                });
            await batcher.StartAsync();
            var submitted = Enumerable.Range(0, 12).Select(i => batcher.SubmitAsync(i).AsTask()).ToList();
            using var stopToken = new CancellationTokenSource();
            switch (random.Next(3))
            {
                case 0:
                    stopToken.Cancel(); // already cancelled, maybe before any batch reached a worker
                    break;
                case 1:
                    await Bounded.Until(() => Volatile.Read(ref calls) > hangAfter, "a process call hangs");
                    stopToken.Cancel();
                    break;
                default:
                    await Bounded.Until(() => Volatile.Read(ref calls) > hangAfter, "a process call hangs");
                    stopToken.CancelAfter(random.Next(1, 10));
                    break;
            }

            var patientStop = batcher.StopAsync(); // no token: waits for the same drain, ended by the aborted one
            var abortingStop = batcher.StopAsync(stopToken.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abortingStop.Within(Bounded.Soon, "the aborted stop"));
            await patientStop.Within(Bounded.Soon, "a concurrent stop without a token");
            Assert.True(Volatile.Read(ref calls) == 0 || seen.IsCancellationRequested, "the process function's token was cancelled");

            int accepted = 0;
            foreach (var (task, i) in submitted.Select((t, i) => (t, i)))
            {
                try
                {
                    Assert.Equal(-i, await task.Within(Bounded.Soon, $"round {round}: record {i} (stats before the wait: {batcher.Stats})"));
                    processedOk++;
                    accepted++;
                }
                catch (OperationCanceledException e)
                {
                    Assert.Equal(stopToken.Token, e.CancellationToken);
                    cancelled++;
                    accepted++;
                }
                catch (InvalidOperationException e) when (e.Message.Contains("stopping"))
                {
                    refused++; // it was blocked on the full intake when the stop began
                }
            }

            var stats = batcher.Stats;
            Assert.Equal(accepted, stats.TotalSubmitted);
            Assert.Equal(accepted, stats.TotalCompleted);
            hang.SetResult(Enumerable.Range(0, 4).ToArray()); // late results are dropped without harm
            Volatile.Write(ref hanging, false);
            await batcher.StopAsync().Within(Bounded.Soon, "a stop of a stopped batcher");
            await batcher.StartAsync();
            Assert.Equal(-5, await batcher.SubmitAsync(5).Soonish("a submit after an aborted stop and a restart"));
            await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "dispose");
        }

        output.WriteLine($"{Rounds} aborted stops: {processedOk:N0} records completed before the hang, {cancelled:N0} " +
            $"cancelled by the stop, {refused:N0} blocked submitters refused");
        Assert.True(cancelled > 0);
    }

    [Fact]
    public async Task SubmittersBlockedOnAFullIntakeAreAllReleasedByAStop()
    {
        long refusedWhileBlocked = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var batcher = new DynamicBatcher<int, int>(
                async (batch, _) =>
                {
                    await gate.Task;
                    return batch.ToArray();
                },
                new DynamicBatcherOptions<int> { MaxQueueSize = 1 + round % 3, MaxBatchSize = 1, PrefetchBatches = 1 });
            await batcher.StartAsync();
            var tasks = Enumerable.Range(0, 32).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
            await Bounded.Until(() => tasks.Count(t => !t.IsCompleted) == 32 && batcher.Stats.QueueDepth >= 1, "the intake fills");
            var stopping = round % 2 == 0 ? batcher.StopAsync() : batcher.DisposeAsync().AsTask();
            if (round % 4 < 2)
            {
                gate.SetResult(); // release before the blocked submitters observed the stop
            }
            else
            {
                await Task.Yield();
                gate.SetResult();
            }

            await stopping.Within(Bounded.Soon, "the stop with blocked submitters");
            int ok = 0;
            foreach (var (task, i) in tasks.Select((t, i) => (t, i)))
            {
                try
                {
                    Assert.Equal(i, await task.Within(Bounded.Soon, $"submitter {i}"));
                    ok++;
                }
                catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
                {
                    refusedWhileBlocked++;
                }
            }

            Assert.Equal(ok, batcher.Stats.TotalSubmitted);
            Assert.Equal(ok, batcher.Stats.TotalCompleted);
            Assert.True(ok < 32, "some submitters were blocked when the stop began");
            await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "dispose");
        }

        output.WriteLine($"{Rounds} rounds: {refusedWhileBlocked:N0} blocked submitters refused by the stop");
    }
}
