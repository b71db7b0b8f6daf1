using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// Priority lanes with ageing under a saturated worker: one worker whose every call takes about a millisecond, the
/// most urgent lane fed by a few producers (8 records in flight, one batch) and each other lane by more (40-48 in
/// flight, five or six batches), so the lower lanes queue up. The ageing (200 ms) is well above the whole backlog's
/// wait: with a backlog older than the ageing every record is aged and the lanes are served oldest first, which is
/// the ageing rule itself but leaves no urgency to measure. A last case lets the urgent lane alone saturate the
/// worker, with a 50 ms ageing.
/// </summary>
/// <remarks>
/// <para>With one worker, calls are sequential, so each record's dispatch position (call, index in the batch) is an
/// exact order. Each submit is stamped on a logical clock before it begins and after it returns; every submit here is
/// accepted at once (each lane has room for all the records in flight).</para>
/// <para>Rules, exact: every record completes once with its own result; <b>FIFO within a lane</b>: a record accepted
/// before another record of its lane began its submit is dispatched first; <b>urgent lanes first</b>: when record b
/// of lane k is dispatched un-aged (from its submit to the start of its call less than <c>PriorityAging</c>, measured
/// so that this bounds its age when it was packed from above), every record of a more urgent lane that was visible to
/// the packing thread before b began its submit was dispatched before b (when b was packed, that record was queued or
/// already packed, so b's lane was not the most urgent one holding a record). "Visible": the record and every record
/// of its lane claimed before it had been accepted (a submit between its claim and its publish hides the positions
/// after it). A record that overtakes such an urgent record must have aged.</para>
/// <para>Statistics, with a generous margin: the median wait of the urgent lane is at most half that of the least
/// urgent lane, counted over records submitted while every producer still ran. No record starves: every one completes
/// within the run's bound, and lower lanes are dispatched while the urgent producers run; when the urgent lane alone
/// saturates the worker, some of those went after waiting the ageing or more.</para>
/// </remarks>
public class PriorityStressTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 4, 2, 12, 500, 150, 200, 31)]
    [InlineData(3, 4, 2, 8, 500, 150, 200, 32)]
    [InlineData(4, 4, 2, 6, 500, 150, 200, 33)]
    [InlineData(2, 8, 4, 4, 300, 40, 50, 34)] // the urgent lane alone saturates the worker: the lower lane lives on ageing
    public async Task UrgentLanesGoFirstFifoWithinALaneAndNothingStarves(
        int lanes, int urgentProducers, int urgentWindow, int lowProducersPerLane, int urgentPerProducer, int lowPerProducer,
        int agingMs, int seed)
    {
        var aging = TimeSpan.FromMilliseconds(agingMs);
        bool saturating = urgentProducers * urgentWindow >= 32; // four batches of 8 always waiting in the urgent lane
        var run = new Run(lanes, urgentProducers, urgentWindow, lowProducersPerLane, urgentPerProducer, lowPerProducer, seed, saturating, aging);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<int, long>(
            run.ProcessAsync,
            new DynamicBatcherOptions<int>
            {
                Workers = 1,
                PrefetchBatches = 1,
                MaxBatchSize = 8,
                MinBatchSize = 1,
                TargetBatchCost = 100_000,
                MaxQueueSize = 1_024,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
                PriorityLanes = lanes,
                PriorityAging = aging,
                Observer = observer,
            });
        var clock = Stopwatch.StartNew();
        await batcher.StartAsync();
        await run.ProduceAsync(batcher).Within(Bounded.Run, "the producers");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        string summary = run.Verify(stats, observer);
        output.WriteLine($"lanes {lanes}, urgent producers {urgentProducers}x{urgentWindow}, {lowProducersPerLane} producers " +
            $"per lower lane: {run.Records:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(summary);
        run.Violations.AssertNone();
    }

    private sealed class Run
    {
        private const int LowWindow = 4;
        private readonly int _lanes, _urgentProducers, _urgentWindow, _lowProducers, _urgentPer, _lowPer;
        private readonly LogicalClock _clock = new();
        private readonly int[] _laneOf, _outcomes;
        private readonly long[] _begin, _accepted, _position, _beginTimestamp, _waitTicks;
        private readonly List<long> _callTick = [0];
        private long _urgentDoneTick = long.MaxValue;
        private int _calls;

        private readonly bool _saturating;
        private readonly TimeSpan _aging;
        private long _firstProducerDoneTick = long.MaxValue;

        public Run(int lanes, int urgentProducers, int urgentWindow, int lowProducers, int urgentPer, int lowPer, int seed, bool saturating, TimeSpan aging)
        {
            _saturating = saturating;
            _aging = aging;
            (_lanes, _urgentProducers, _urgentWindow, _lowProducers, _urgentPer, _lowPer) =
                (lanes, urgentProducers, urgentWindow, lowProducers, urgentPer, lowPer);
            _ = seed; // the schedule is the threads'; the seed only names the case
            Records = urgentProducers * urgentPer + (lanes - 1) * lowProducers * lowPer;
            _laneOf = new int[Records];
            _outcomes = new int[Records];
            _begin = new long[Records];
            _accepted = new long[Records];
            _position = new long[Records];
            _beginTimestamp = new long[Records];
            _waitTicks = new long[Records];
        }

        public int Records { get; }

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 5L + 2;

        public async ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<int> batch, CancellationToken token)
        {
            int call = ++_calls; // one worker: calls never overlap
            long tick = _clock.Tick();
            long now = Stopwatch.GetTimestamp();
            lock (_callTick)
            {
                _callTick.Add(tick);
            }

            var results = new long[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                int id = batch[i];
                if (_position[id] != 0)
                {
                    Violations.Add($"record {id} dispatched twice");
                }

                _position[id] = (long)call * 64 + i;
                _waitTicks[id] = now - _beginTimestamp[id];
                results[i] = ResultOf(id);
            }

            await Task.Delay(1); // about a millisecond per call, whatever the batch holds: the worker is the bottleneck
            return results;
        }

        public Task ProduceAsync(DynamicBatcher<int, long> batcher)
        {
            var producers = new List<Task>();
            int next = 0;
            var urgent = new List<Task>();
            for (int p = 0; p < _urgentProducers; p++)
            {
                urgent.Add(Producer(batcher, 0, next, _urgentPer, _urgentWindow));
                next += _urgentPer;
            }

            for (int lane = 1; lane < _lanes; lane++)
            {
                for (int p = 0; p < _lowProducers; p++)
                {
                    producers.Add(Producer(batcher, lane, next, _lowPer, LowWindow));
                    next += _lowPer;
                }
            }

            var urgentDone = Task.WhenAll(urgent).ContinueWith(
                _ => Volatile.Write(ref _urgentDoneTick, _clock.Tick()), TaskScheduler.Default);
            return Task.WhenAll([.. producers, .. urgent, urgentDone]);
        }

        public string Verify(BatchStats stats, ReasonCounter observer)
        {
            for (int id = 0; id < Records; id++)
            {
                if (_outcomes[id] != 1)
                {
                    Violations.Add($"record {id} completed {_outcomes[id]} times");
                }

                if (_position[id] == 0)
                {
                    Violations.Add($"record {id} never reached the process function");
                }
            }

            Violations.Expect("submitted", Records, stats.TotalSubmitted);
            Violations.Expect("failed", 0, stats.TotalFailed);
            StressKit.CheckStats(Violations, stats, observer);

            var ids = Enumerable.Range(0, Records).ToArray();
            long fifoChecked = 0;
            for (int lane = 0; lane < _lanes; lane++)
            {
                fifoChecked += StressKit.CheckAcceptanceOrder(Violations, $"lane {lane}",
                    [.. ids.Where(id => _laneOf[id] == lane).Select(id => (_accepted[id], _begin[id], _position[id], id))]);
            }

            // When was every record of a's lane up to a published? A submit that began earlier may hold an earlier
            // position and publish it later; the ring shows nothing past an unpublished position. Records claimed before a
            // all began before a was accepted, so the latest acceptance among those bounds it from above.
            var visible = new long[Records];
            for (int lane = 0; lane < _lanes; lane++)
            {
                var byBegin = ids.Where(id => _laneOf[id] == lane).OrderBy(id => _begin[id]).ToArray();
                var begins = byBegin.Select(id => _begin[id]).ToArray();
                var latestAccepted = new long[byBegin.Length];
                for (int i = 0; i < byBegin.Length; i++)
                {
                    latestAccepted[i] = Math.Max(i > 0 ? latestAccepted[i - 1] : 0, _accepted[byBegin[i]]);
                }

                foreach (int id in byBegin)
                {
                    visible[id] = latestAccepted[LowerBound(begins, _accepted[id]) - 1];
                }
            }

            // Urgent lanes first: for each lower lane k, the urgent records (lanes < k) sorted by when they were surely
            // visible to the packing thread, with the latest dispatch position among the first n of them.
            long agingTicks = (long)(_aging.TotalSeconds * Stopwatch.Frequency);
            long urgentChecked = 0, contended = 0, agedOvertakes = 0, lowWhileUrgentBusy = 0;
            var callTicks = _callTick.ToArray();
            for (int lane = 1; lane < _lanes; lane++)
            {
                var urgent = ids.Where(id => _laneOf[id] < lane).OrderBy(id => visible[id]).ToArray();
                var visibleSorted = urgent.Select(id => visible[id]).ToArray();
                var latest = new int[urgent.Length];
                for (int i = 0; i < urgent.Length; i++)
                {
                    latest[i] = i > 0 && _position[urgent[latest[i - 1]]] > _position[urgent[i]] ? latest[i - 1] : i;
                }

                foreach (int b in ids.Where(id => _laneOf[id] == lane))
                {
                    if (callTicks[(int)(_position[b] / 64)] < Volatile.Read(ref _urgentDoneTick))
                    {
                        lowWhileUrgentBusy++;
                    }

                    int before = LowerBound(visibleSorted, _begin[b]); // urgent records visible before b began
                    if (before == 0)
                    {
                        continue;
                    }

                    int a = urgent[latest[before - 1]];
                    bool overtook = _position[a] > _position[b];
                    if (_waitTicks[b] < agingTicks)
                    {
                        urgentChecked++;
                        if (callTicks[(int)(_position[a] / 64)] > _begin[b])
                        {
                            contended++; // that urgent record was still waiting when b was submitted
                        }

                        if (overtook)
                        {
                            Violations.Add($"lane {lane} record {b}, un-aged ({_waitTicks[b] * 1000.0 / Stopwatch.Frequency:F1} ms), " +
                                $"was dispatched before lane {_laneOf[a]} record {a}, visible in its lane before b's submit began");
                        }
                    }
                    else if (overtook)
                    {
                        agedOvertakes++;
                    }
                }
            }

            // Waits by lane, over the records submitted while every producer still ran (in a steady mix).
            long steadyUntil = Volatile.Read(ref _firstProducerDoneTick);
            long agedServed = ids.Count(id => _laneOf[id] > 0 && _waitTicks[id] >= agingTicks
                && callTicks[(int)(_position[id] / 64)] < Volatile.Read(ref _urgentDoneTick));
            var medians = new double[_lanes];
            var maxima = new double[_lanes];
            for (int lane = 0; lane < _lanes; lane++)
            {
                var waits = ids.Where(id => _laneOf[id] == lane && _begin[id] < steadyUntil)
                    .Select(id => _waitTicks[id] * 1000.0 / Stopwatch.Frequency).OrderBy(w => w).ToArray();
                medians[lane] = waits.Length == 0 ? double.NaN : waits[waits.Length / 2];
                maxima[lane] = ids.Where(id => _laneOf[id] == lane).Max(id => _waitTicks[id]) * 1000.0 / Stopwatch.Frequency;
            }

            if (!(medians[0] * 2 <= medians[^1])) // a NaN (no record in the steady mix) fails too
            {
                Violations.Add($"median wait of the urgent lane {medians[0]:F2} ms is not at most half that of lane " +
                    $"{_lanes - 1}, {medians[^1]:F2} ms");
            }

            // Saturated, the lower lane goes only when the urgent one is momentarily empty or by ageing, so the
            // urgent-first rule rarely applies; there ageing must have let lower-lane records through.
            if ((_saturating ? agedServed == 0 : urgentChecked == 0 || contended == 0) || lowWhileUrgentBusy == 0 || fifoChecked == 0)
            {
                Violations.Add($"a rule was never exercised: {urgentChecked} urgent-first checks ({contended} contended), " +
                    $"{lowWhileUrgentBusy} lower-lane records while the urgent lane was busy, {fifoChecked} FIFO checks");
            }

            return $"  {StressKit.Reasons(stats)}\n" +
                $"  FIFO within a lane checked on {fifoChecked:N0} records; urgent-first checked on {urgentChecked:N0} un-aged " +
                $"lower-lane records ({contended:N0} submitted while an earlier urgent record still waited); " +
                $"{agedOvertakes:N0} overtakes by aged records; {lowWhileUrgentBusy:N0} lower-lane records dispatched while the " +
                $"urgent producers ran, {agedServed:N0} of them after waiting the ageing or more\n" +
                $"  median wait by lane (ms): {string.Join(", ", medians.Select(m => m.ToString("F2")))}; " +
                $"max: {string.Join(", ", maxima.Select(m => m.ToString("F1")))}";
        }

        private static int LowerBound(long[] sorted, long value)
        {
            int lo = 0, hi = sorted.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (sorted[mid] < value)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return lo;
        }

        private async Task Producer(DynamicBatcher<int, long> batcher, int lane, int first, int count, int window)
        {
            await Task.Yield();
            var inFlight = new Queue<Task>();
            for (int s = 0; s < count; s++)
            {
                if (inFlight.Count >= window)
                {
                    await inFlight.Dequeue();
                }

                inFlight.Enqueue(One(batcher, first + s, lane));
            }

            while (inFlight.Count > 0)
            {
                await inFlight.Dequeue();
            }

            long done = _clock.Tick();
            while (done < Volatile.Read(ref _firstProducerDoneTick))
            {
                long seen = Volatile.Read(ref _firstProducerDoneTick);
                if (Interlocked.CompareExchange(ref _firstProducerDoneTick, done, seen) == seen)
                {
                    break;
                }
            }
        }

        private async Task One(DynamicBatcher<int, long> batcher, int id, int lane)
        {
            _laneOf[id] = lane;
            _begin[id] = _clock.Tick();
            _beginTimestamp[id] = Stopwatch.GetTimestamp(); // before the batcher stamps the record's arrival
            var task = batcher.SubmitAsync(id, new SubmitOptions { Priority = lane });
            _accepted[id] = StressKit.AcceptedAtOnce(task) ? _clock.Tick() : long.MaxValue;
            if (_accepted[id] == long.MaxValue)
            {
                Violations.Add($"record {id} was not accepted at once although its lane had room");
            }

            try
            {
                long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
                if (value != ResultOf(id))
                {
                    Violations.Add($"record {id} got {value}, not its result");
                }
            }
            catch (Exception e)
            {
                Violations.Add($"record {id} failed with {e.GetType().Name}: {e.Message}");
            }

            Interlocked.Increment(ref _outcomes[id]);
        }
    }
}
