using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// 64 producers push records with random costs (zero and over-budget ones included) and random cancellations through
/// a batcher whose process function randomly throws, returns the wrong number of results, returns null, or is slow.
/// Every record is then checked against what the process function saw.
/// </summary>
/// <remarks>
/// <para>Checked for every record: it completed exactly once; a result is its own (a function of its id) and comes
/// from the one successful batch it was in; an exception is the one its batch failed with; a cancellation is its own
/// token's and only happens to a record whose cancellation was requested; a record never appears in two batches.</para>
/// <para>Checked for every batch: at most <c>MaxBatchSize</c> records, cost within the target unless it holds a lone
/// record, and each producer's records in submission order.</para>
/// <para>Cancelled while queued, precisely: a worker claims a batch's records only after its previous process call
/// returned. Each worker is tagged (an <see cref="AsyncLocal{T}"/> set by the batch observer, which the worker calls
/// from its own loop after each batch, stays with that loop; one set inside the process function does not, since the
/// worker calls it from an async method of its own) and stamps a global logical clock after each call returned. A cancellation is stamped after it
/// surely completed the record (after <c>Cancel()</c> returned and after the submit armed the token). A record in a
/// batch whose cancellation stamp is older than the worker's previous return was completed as cancelled while still
/// queued, yet handed to the process function: that is the violation. The rule is conservative (it never accuses a
/// record cancelled after the hand-off) and is exercised on thousands of records per run.</para>
/// </remarks>
public class FaultInjectionStressTests(ITestOutputHelper output)
{
    private const int Producers = 64;
    private const int Window = 4; // submits in flight per producer

    private static readonly FieldInfo? ValueTaskSource =
        typeof(ValueTask<long>).GetField("_obj", BindingFlags.NonPublic | BindingFlags.Instance);

    private static readonly AsyncLocal<WorkerTag?> CurrentWorker = new();

    private enum Mode : byte
    {
        Ok,
        SlowAsync,
        SlowBlocking,
        Throw,
        Faulted,
        TooMany,
        TooFew,
        Null,
    }

    /// <summary>Records stressed, summed over every configuration run by this process (for the report).</summary>
    public static long RecordsStressed;

    [Theory]
    [InlineData(1, 1, 1, 32, 300, 64, 250_000, 1)]
    [InlineData(2, 2, 1, 64, 500, 256, 250_000, 2)]
    [InlineData(3, 3, 4, 64, 400, 128, 250_000, 3)]
    [InlineData(4, 4, 1, 16, 200, 32, 250_000, 4)]
    [InlineData(1, 4, 8, 32, 300, 512, 250_000, 5)]
    [InlineData(4, 1, 2, 64, 1_000, 256, 250_000, 6)]
    [InlineData(2, 3, 16, 32, 250, 64, 250_000, 7)]
    [InlineData(3, 2, 1, 128, 2_000, 1_024, 250_000, 8)]
    public async Task EveryRecordCompletesOnceWithTheRightOutcomeUnderFaults(
        int workers, int prefetch, int minBatch, int maxBatch, int target, int queue, int records, int seed)
    {
        var run = new StressRun(records, target, maxBatch, seed);
        var options = new DynamicBatcherOptions<Job>
        {
            Workers = workers,
            PrefetchBatches = prefetch,
            MinBatchSize = minBatch,
            MaxBatchSize = maxBatch,
            TargetBatchCost = target,
            MaxQueueSize = queue,
            BatchTimeout = TimeSpan.FromMilliseconds(2),
            Observer = run, // tags the worker (see the remarks)
            // The tags follow each worker's own flow; a record run alone would run, and be tagged, in its submitter's
            // flow instead. The idle fast path has its own stress (IdleFastPathStressTests).
            RunAloneWhenIdle = false,
        };
        var batcher = new DynamicBatcher<Job, long>(run.ProcessAsync, options);
        var clock = Stopwatch.StartNew();
        run.RunStart = run.Tick();
        await batcher.StartAsync();
        var canceller = Task.Run(run.CancelLoopAsync);
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => run.ProduceAsync(batcher, p))))
            .Within(Bounded.Run, "the producers");
        run.ProducersDone = true;
        await canceller.Within(Bounded.Soon, "the canceller");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync after the stress");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        var report = run.Verify(stats, workers);
        Interlocked.Add(ref RecordsStressed, records);
        output.WriteLine(
            $"workers {workers}, prefetch {prefetch}, min {minBatch}, max {maxBatch}, target {target}, queue {queue}: " +
            $"{records:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(report.Summary);
        Assert.True(report.Violations.Count == 0, string.Join("\n", report.Violations.Take(30)));
    }

    internal sealed class Job(int id, int producer, int sequence, int cost)
    {
        public int Id { get; } = id;

        public int Producer { get; } = producer;

        public int Sequence { get; } = sequence;

        public int Cost { get; } = cost;

        public static long ResultOf(int id) => id * 7L + 3;
    }

    private sealed class WorkerTag(long lastReturn)
    {
        public long LastReturn = lastReturn;
    }

    private sealed record BatchInfo(Mode Mode, int Count);

    private sealed class BatchFaultException(int batchId) : Exception($"injected fault in batch {batchId}")
    {
        public int BatchId { get; } = batchId;
    }

    internal sealed record Report(List<string> Violations, string Summary);

    private sealed class StressRun(int records, int target, int maxBatch, int seed) : IBatchObserver
    {
        private readonly ConcurrentDictionary<int, BatchInfo> _batches = new();
        private readonly ConcurrentQueue<string> _violations = new();
        private readonly ConcurrentQueue<(int Id, CancellationTokenSource Source, int Spins)> _toCancel = new();
        private readonly int[] _batchOf = new int[records];
        private readonly int[] _outcomes = new int[records];
        private readonly long[] _cancelStamp = new long[records]; // after Cancel() returned
        private readonly long[] _armedStamp = new long[records]; // after the submit armed the token (0: not known)
        private readonly bool[] _cancelRequested = new bool[records];
        private readonly bool[] _neverAccepted = new bool[records];
        private readonly bool[] _acceptedAtOnce = new bool[records]; // the intake took it before SubmitAsync returned
        private int _batchIds;
        private long _clock;
        private int _workerTags;
        private long _results, _batchFailures, _countFailures, _cancelled, _refusedPreCancelled;
        private long _handOffChecks, _cancelledNeverProcessed, _cancelledWhileRunning;
        private long _zeroCost, _overBudget, _throws, _wrongCounts, _slow, _batchesSeen, _waitedInOrder;

        public long RunStart;

        public volatile bool ProducersDone;

        public long Tick() => Interlocked.Increment(ref _clock);

        /// <summary>
        /// Runs on the worker after each batch it processed, outside the call of the process function, so a tag set
        /// here stays in the worker's own flow and its next process call sees it. The stamp is taken after the call
        /// returned and before the worker claims its next batch.
        /// </summary>
        public void OnBatchCompleted(in BatchReport report)
        {
            var worker = CurrentWorker.Value;
            if (worker is null)
            {
                worker = new WorkerTag(RunStart);
                CurrentWorker.Value = worker;
                Interlocked.Increment(ref _workerTags);
            }

            worker.LastReturn = Tick();
        }

        public ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<Job> batch, CancellationToken token)
        {
            // Not async: the tag set here stays in the calling worker's flow for its later calls.
            // A worker's first batch has no tag yet: it was claimed after the run started.
            var worker = CurrentWorker.Value ?? new WorkerTag(RunStart);

            long claimedAfter = worker.LastReturn; // this batch was claimed after the worker's previous call returned
            int id = Interlocked.Increment(ref _batchIds);
            var mode = PickMode(id);
            _batches[id] = new BatchInfo(mode, batch.Count);
            Interlocked.Increment(ref _batchesSeen);
            CheckBatch(batch, id, claimedAfter);
            long[] results = new long[batch.Count];
            for (int i = 0; i < results.Length; i++)
            {
                results[i] = Job.ResultOf(batch[i].Id);
            }

            switch (mode)
            {
                case Mode.Throw:
                    Interlocked.Increment(ref _throws);
                    worker.LastReturn = Tick();
                    throw new BatchFaultException(id);
                case Mode.Faulted:
                    Interlocked.Increment(ref _throws);
                    worker.LastReturn = Tick();
                    return ValueTask.FromException<IReadOnlyList<long>>(new BatchFaultException(id));
                case Mode.TooMany:
                    Interlocked.Increment(ref _wrongCounts);
                    worker.LastReturn = Tick();
                    return ValueTask.FromResult<IReadOnlyList<long>>([.. results, -1]);
                case Mode.TooFew:
                    Interlocked.Increment(ref _wrongCounts);
                    worker.LastReturn = Tick();
                    return ValueTask.FromResult<IReadOnlyList<long>>(results[..^1]);
                case Mode.Null:
                    Interlocked.Increment(ref _wrongCounts);
                    worker.LastReturn = Tick();
                    return ValueTask.FromResult<IReadOnlyList<long>>(null!);
                case Mode.SlowBlocking:
                    Interlocked.Increment(ref _slow);
                    Thread.Sleep(1);
                    worker.LastReturn = Tick();
                    return ValueTask.FromResult<IReadOnlyList<long>>(results);
                case Mode.SlowAsync:
                    Interlocked.Increment(ref _slow);
                    return SlowAsync(worker, results);
                default:
                    worker.LastReturn = Tick();
                    return ValueTask.FromResult<IReadOnlyList<long>>(results);
            }
        }

        public async Task ProduceAsync(DynamicBatcher<Job, long> batcher, int producer)
        {
            var random = new Random(HashCode.Combine(seed, producer));
            int perProducer = records / Producers + (producer < records % Producers ? 1 : 0);
            int firstId = producer * (records / Producers) + Math.Min(producer, records % Producers);
            var inFlight = new Queue<(Job Job, ValueTask<long> Task, CancellationTokenSource? Source)>();
            for (int s = 0; s < perProducer || inFlight.Count > 0;)
            {
                if (s < perProducer && inFlight.Count < Window)
                {
                    var job = new Job(firstId + s, producer, s, NextCost(random));
                    s++;
                    inFlight.Enqueue(Submit(batcher, job, random));
                    continue;
                }

                var (done, task, source) = inFlight.Dequeue();
                await Observe(done, task, source); // sources are not disposed: the canceller may still hold them (no timers)
            }
        }

        public async Task CancelLoopAsync()
        {
            while (!ProducersDone || !_toCancel.IsEmpty)
            {
                if (!_toCancel.TryDequeue(out var entry))
                {
                    await Task.Delay(1);
                    continue;
                }

                if (entry.Spins > 0)
                {
                    Thread.SpinWait(entry.Spins);
                }
                else
                {
                    await Task.Yield();
                }

                Cancel(entry.Id, entry.Source);
            }
        }

        public Report Verify(BatchStats stats, int workers)
        {
            var violations = _violations.ToList();
            long mayBeRefusedWhileWaiting = 0; // cancellable records the intake did not take at once
            for (int id = 0; id < records; id++)
            {
                if (_outcomes[id] != 1)
                {
                    violations.Add($"record {id} completed {_outcomes[id]} times");
                }

                if (_cancelRequested[id] && !_neverAccepted[id] && !_acceptedAtOnce[id])
                {
                    mayBeRefusedWhileWaiting++;
                }

                if (_cancelRequested[id] && _batchOf[id] == 0)
                {
                    _cancelledNeverProcessed++;
                }
            }

            if (Volatile.Read(ref _workerTags) > workers || Volatile.Read(ref _workerTags) == 0)
            {
                violations.Add($"{_workerTags} worker tags for {workers} workers: the hand-off rule lost its bound");
            }

            // A submit cancelled while it waits for room is refused (never accepted): the caller sees a cancellation
            // the batcher does not count. Every accepted record is counted exactly once.
            long refusedWhileWaiting = _cancelled - stats.TotalCancelled;
            Expect(violations, "completed (all accepted)", stats.TotalSubmitted, stats.TotalCompleted);
            Expect(violations, "accepted = results + failures + cancellations",
                stats.TotalSubmitted, _results + _batchFailures + _countFailures + stats.TotalCancelled);
            Expect(violations, "failed", _batchFailures + _countFailures, stats.TotalFailed);
            Expect(violations, "outcomes", records, _results + _batchFailures + _countFailures + _cancelled + _refusedPreCancelled);
            if (refusedWhileWaiting < 0 || refusedWhileWaiting > mayBeRefusedWhileWaiting)
            {
                violations.Add($"{_cancelled:N0} cancellations seen, {stats.TotalCancelled:N0} counted: {refusedWhileWaiting:N0} " +
                    $"would be refused while waiting, but only {mayBeRefusedWhileWaiting:N0} cancellable submits waited");
            }

            if (_zeroCost == 0 || _overBudget == 0 || _throws == 0 || _wrongCounts == 0 || _slow == 0 || _cancelled == 0
                || _cancelledNeverProcessed == 0)
            {
                violations.Add("a fault was never injected: the run was too small to exercise it");
            }

            string summary =
                $"  {_batchesSeen:N0} batches; outcomes: {_results:N0} results, {_batchFailures:N0} batch exceptions, " +
                $"{_countFailures:N0} wrong-count failures, {_cancelled:N0} cancelled, {_refusedPreCancelled:N0} refused (token " +
                $"already cancelled)\n  faults: {_throws:N0} throwing batches, {_wrongCounts:N0} wrong-count/null batches, " +
                $"{_slow:N0} slow batches, {_zeroCost:N0} zero-cost and {_overBudget:N0} over-budget records\n" +
                $"  order: checked on every batch, {_waitedInOrder:N0} of the records in batches had waited for room\n" +
                $"  cancellations: {_cancelledNeverProcessed:N0} kept out of the process function, {_cancelledWhileRunning:N0} " +
                $"cancelled after the hand-off, {refusedWhileWaiting:N0} refused while waiting for room; hand-off rule checked on {_handOffChecks:N0} processed records whose " +
                $"cancellation was requested";
            return new Report(violations, summary);
        }

        private static void Expect(List<string> violations, string what, long expected, long actual)
        {
            if (expected != actual)
            {
                violations.Add($"{what}: expected {expected:N0}, got {actual:N0}");
            }
        }

        private static bool IsDirect(ValueTask<long> task) => ValueTaskSource?.GetValue(task) is RecordCompletion<long>;

        private async ValueTask<IReadOnlyList<long>> SlowAsync(WorkerTag worker, long[] results)
        {
            await Task.Delay(1);
            worker.LastReturn = Tick();
            return results;
        }

        private Mode PickMode(int batchId)
        {
            int roll = (int)((uint)HashCode.Combine(seed, batchId) % 100);
            return roll switch
            {
                < 80 => Mode.Ok,
                < 84 => Mode.SlowAsync,
                < 86 => Mode.SlowBlocking,
                < 89 => Mode.Throw,
                < 92 => Mode.Faulted,
                < 94 => Mode.TooMany,
                < 96 => Mode.TooFew,
                < 98 => Mode.Null,
                _ => Mode.Ok,
            };
        }

        private int NextCost(Random random)
        {
            int roll = random.Next(100);
            if (roll < 5)
            {
                Interlocked.Increment(ref _zeroCost);
                return 0;
            }

            if (roll < 9)
            {
                Interlocked.Increment(ref _overBudget);
                return target + random.Next(1, target);
            }

            return random.Next(1, Math.Max(2, target / 6));
        }

        private (Job, ValueTask<long>, CancellationTokenSource?) Submit(
            DynamicBatcher<Job, long> batcher, Job job, Random random)
        {
            int roll = random.Next(1000);
            if (roll >= 60)
            {
                var plain = batcher.SubmitAsync(job, job.Cost);
                _acceptedAtOnce[job.Id] = IsDirect(plain);
                return (job, plain, null);
            }

            var source = new CancellationTokenSource();
            _cancelRequested[job.Id] = true;
            if (roll < 5)
            {
                Cancel(job.Id, source); // already cancelled: the submit must not accept the record
                _neverAccepted[job.Id] = true;
                return (job, batcher.SubmitAsync(job, job.Cost, source.Token), source);
            }

            var task = batcher.SubmitAsync(job, job.Cost, source.Token);
            if (IsDirect(task))
            {
                _acceptedAtOnce[job.Id] = true;
                _armedStamp[job.Id] = Tick(); // accepted at once: the token was armed before the submit returned
            }

            if (roll < 25)
            {
                Cancel(job.Id, source); // at once, likely while queued
            }
            else
            {
                _toCancel.Enqueue((job.Id, source, random.Next(4) == 0 ? 0 : random.Next(1, 20_000)));
            }

            return (job, task, source);
        }

        private void Cancel(int id, CancellationTokenSource source)
        {
            source.Cancel(); // runs the registered callbacks, the batcher's included, before returning
            Volatile.Write(ref _cancelStamp[id], Tick());
        }

        private void CheckBatch(IReadOnlyList<Job> batch, int batchId, long claimedAfter)
        {
            if (batch.Count == 0 || batch.Count > maxBatch)
            {
                Violation($"batch {batchId} holds {batch.Count} records (max {maxBatch})");
            }

            long cost = 0;
            var lastOfProducer = new Dictionary<int, int>();
            foreach (var job in batch)
            {
                cost += job.Cost;
                // Order is each producer's submission order: a record the intake took before its SubmitAsync returned
                // was accepted before any later submit of its producer began, and a submit that found the intake full
                // joined the line of waiters before it returned, and every later submit queues behind that line.
                if (!Volatile.Read(ref _acceptedAtOnce[job.Id]))
                {
                    Interlocked.Increment(ref _waitedInOrder);
                }

                if (lastOfProducer.TryGetValue(job.Producer, out int last) && job.Sequence <= last)
                {
                    Violation($"batch {batchId}: producer {job.Producer}'s record {job.Sequence} after its record {last}" +
                        (Volatile.Read(ref _acceptedAtOnce[job.Id]) ? "" : " (it waited for room)"));
                }

                lastOfProducer[job.Producer] = Math.Max(last, job.Sequence);
                int previous = Interlocked.CompareExchange(ref _batchOf[job.Id], batchId, 0);
                if (previous != 0)
                {
                    Violation($"record {job.Id} is in batch {batchId} and in batch {previous}");
                }

                if (_neverAccepted[job.Id])
                {
                    Violation($"record {job.Id} was refused (its token was cancelled before the submit) yet is in batch {batchId}");
                }

                if (_cancelRequested[job.Id])
                {
                    // A record accepted after waiting for room was armed at an unknown time: its stamp stays 0 and the
                    // rule passes it (never a false accusation).
                    Interlocked.Increment(ref _handOffChecks);
                    long cancelled = Volatile.Read(ref _cancelStamp[job.Id]);
                    long armed = Volatile.Read(ref _armedStamp[job.Id]);
                    if (cancelled != 0 && armed != 0 && Math.Max(cancelled, armed) < claimedAfter)
                    {
                        Violation($"record {job.Id} was cancelled while queued (stamp {Math.Max(cancelled, armed)}) yet " +
                            $"handed over in batch {batchId} (claimed after stamp {claimedAfter})");
                    }
                }
            }

            if (batch.Count > 1 && cost > target)
            {
                Violation($"batch {batchId}: {batch.Count} records cost {cost} > target {target}");
            }
        }

        private async Task Observe(Job job, ValueTask<long> task, CancellationTokenSource? source)
        {
            int id = job.Id;
            try
            {
                long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
                Interlocked.Increment(ref _results);
                if (value != Job.ResultOf(id))
                {
                    Violation($"record {id} got {value}, which is not its result");
                }

                if (!_batches.TryGetValue(_batchOf[id], out var batch) || batch.Mode is not (Mode.Ok or Mode.SlowAsync or Mode.SlowBlocking))
                {
                    Violation($"record {id} got a result but its batch {_batchOf[id]} did not succeed");
                }
            }
            catch (BatchFaultException e)
            {
                Interlocked.Increment(ref _batchFailures);
                if (_batchOf[id] != e.BatchId || _batches[e.BatchId].Mode is not (Mode.Throw or Mode.Faulted))
                {
                    Violation($"record {id} (batch {_batchOf[id]}) got the exception of batch {e.BatchId}");
                }
            }
            catch (InvalidOperationException e) when (e.Message.Contains("results for a batch", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _countFailures);
                if (!_batches.TryGetValue(_batchOf[id], out var batch) || batch.Mode is not (Mode.TooMany or Mode.TooFew or Mode.Null))
                {
                    Violation($"record {id} got a wrong-count failure but its batch {_batchOf[id]} did not return a wrong count");
                }
                else if (!e.Message.Contains($"of {batch.Count} records", StringComparison.Ordinal))
                {
                    Violation($"record {id}: the wrong-count message does not give the batch size {batch.Count}: {e.Message}");
                }
            }
            catch (OperationCanceledException e)
            {
                if (source is null || !_cancelRequested[id])
                {
                    Violation($"record {id} was cancelled but nobody cancelled it: {e.Message}");
                }
                else if (e.CancellationToken != source.Token)
                {
                    Violation($"record {id} was cancelled with another token");
                }

                if (_neverAccepted[id])
                {
                    Interlocked.Increment(ref _refusedPreCancelled);
                }
                else
                {
                    Interlocked.Increment(ref _cancelled);
                    if (_batchOf[id] != 0)
                    {
                        Interlocked.Increment(ref _cancelledWhileRunning);
                    }
                }
            }
            catch (Exception e)
            {
                Violation($"record {id} failed with an unexpected {e.GetType().Name}: {e.Message}");
            }

            Interlocked.Increment(ref _outcomes[id]);
        }

        private void Violation(string what) => _violations.Enqueue(what);
    }
}
