using System.Diagnostics;
using HdrHistogram;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>The settings of the latency suite (all in one place so docs/perf.md can quote them).</summary>
internal sealed record LatencySettings
{
    public int MaxBatchSize { get; init; } = 64;
    public double DeviceFixedMicroseconds { get; init; } = 1000;
    public double DevicePerRecordMicroseconds { get; init; } = 10;
    public double WaitToFillTimeoutMilliseconds { get; init; } = 5;
    public double SecondsPerLoad { get; init; } = 3;
    public int LightLoadRecords { get; init; } = 2_000;
    public int NoOpLightLoadRecords { get; init; } = 20_000;
    public int[] DispatchTimeoutsMilliseconds { get; init; } = [1, 5, 50];
    public double DispatchSecondsPerTimeout { get; init; } = 1.5;
}

/// <summary>
/// The latency suite: submit → result percentiles (HdrHistogram) for eager dispatch and wait-to-fill at light load
/// (one producer, one record outstanding) and at 50% and 90% of saturation (open-loop arrivals at a constant rate,
/// timed from each record's intended submit time, so a stalled submitter cannot hide latency), on a simulated device;
/// the machinery's own light-load latency against the baselines (no-op process function); and how late a wait-to-fill
/// batch is dispatched after its <c>BatchTimeout</c>.
/// </summary>
internal static class Latency
{
    public static async Task<LatencyReport> RunAsync(LatencySettings settings, TextWriter log)
    {
        var report = new LatencyReport(settings, 0, [], [], []);

        log.WriteLine("Light load, no-op process function (the machinery alone), one producer, one record outstanding:");
        report.NoOp.Add(await NoOpLightLoadAsync(Contender.TokenBatcher, settings.NoOpLightLoadRecords, repetitions: 1, log));
        report.NoOp.Add(await NoOpLightLoadAsync(Contender.Channel, settings.NoOpLightLoadRecords, repetitions: 1, log));
        report.NoOp.Add(await NoOpLightLoadAsync(Contender.Dataflow, settings.NoOpLightLoadRecords, repetitions: 1, log));

        using var device = new SimulatedDevice(
            TimeSpan.FromMicroseconds(settings.DeviceFixedMicroseconds),
            TimeSpan.FromMicroseconds(settings.DevicePerRecordMicroseconds),
            settings.MaxBatchSize);
        double saturation = await SaturationAsync(device, settings);
        report = report with { SaturationRecordsPerSecond = saturation };
        log.WriteLine($"Simulated device: {settings.DeviceFixedMicroseconds} µs + {settings.DevicePerRecordMicroseconds} µs per record, " +
            $"batches of up to {settings.MaxBatchSize}; saturation (eager, closed loop, {4 * settings.MaxBatchSize} outstanding): {saturation:N0} records/s");

        foreach (bool waitToFill in new[] { false, true })
        {
            string mode = waitToFill ? "wait-to-fill" : "eager";
            await using var batcher = await StartAsync(device, settings, waitToFill, settings.WaitToFillTimeoutMilliseconds);
            var light = await ClosedLoopLatencyAsync(batcher, settings.LightLoadRecords);
            report.Loads.Add(new LoadLatency(mode, "light (1 outstanding)", 0, Measure.Percentiles(light)));
            foreach (double fraction in new[] { 0.5, 0.9 })
            {
                var paced = await OpenLoopLatencyAsync(batcher, saturation * fraction, settings.SecondsPerLoad);
                report.Loads.Add(new LoadLatency(mode, $"{fraction:P0} of saturation", saturation * fraction, Measure.Percentiles(paced)));
            }
        }

        foreach (var load in report.Loads)
        {
            log.WriteLine($"  {load.Mode,-12} {load.Load,-22} p50 {load.Latency.P50,9:F1} µs  p99 {load.Latency.P99,9:F1} µs  p99.9 {load.Latency.P999,9:F1} µs  (n={load.Latency.Count})");
        }

        log.WriteLine("Wait-to-fill dispatch against BatchTimeout (one record outstanding, so every batch times out):");
        foreach (int timeout in settings.DispatchTimeoutsMilliseconds)
        {
            var lateness = await DispatchLatenessAsync(timeout, settings);
            report.Dispatch.Add(lateness);
            log.WriteLine($"  timeout {timeout,3} ms: dispatched after the timeout by p50 {lateness.Lateness.P50:F0} µs, " +
                $"p99 {lateness.Lateness.P99:F0} µs, max {lateness.Lateness.Max:F0} µs (n={lateness.Lateness.Count})");
        }

        return report;
    }

    /// <summary>Submit → result, one producer with one record outstanding, no-op process function.</summary>
    public static async Task<NoOpLatency> NoOpLightLoadAsync(Contender contender, int records, int repetitions, TextWriter log)
    {
        var runs = new List<Percentiles>();
        switch (contender)
        {
            case Contender.TokenBatcher:
                await using (var ours = await NoOpBatchers.StartTokenBatcherAsync())
                {
                    for (int i = 0; i < repetitions; i++)
                    {
                        runs.Add(await OneAtATimeAsync(new TokenBatcherSubmitter(ours), records));
                    }
                }

                break;
            case Contender.Channel:
                await using (var channel = NoOpBatchers.StartChannel())
                {
                    for (int i = 0; i < repetitions; i++)
                    {
                        runs.Add(await OneAtATimeAsync(new ChannelSubmitter(channel), records));
                    }
                }

                break;
            default:
                await using (var dataflow = NoOpBatchers.StartDataflow())
                {
                    for (int i = 0; i < repetitions; i++)
                    {
                        runs.Add(await OneAtATimeAsync(new DataflowSubmitter(dataflow), records));
                    }
                }

                break;
        }

        var best = runs.MinBy(r => r.P99)!;
        log.WriteLine($"  {contender,-12} p50 {best.P50,8:F1} µs  p99 {best.P99,8:F1} µs  p99.9 {best.P999,8:F1} µs  max {best.Max,9:F1} µs" +
            (repetitions > 1 ? $"  (best p99 of {repetitions}: {string.Join(", ", runs.Select(r => r.P99.ToString("F1")))})" : ""));
        return new NoOpLatency(contender.ToString(), best, runs.Select(r => r.P99).ToList());
    }

    private static async Task<Percentiles> OneAtATimeAsync<TSubmitter>(TSubmitter submitter, int records)
        where TSubmitter : struct, ISubmitter
    {
        await Task.Run(async () =>
        {
            for (int i = 0; i < Math.Min(2_000, records); i++)
            {
                await submitter.SubmitAsync(i); // warm-up
            }
        });

        var histogram = Measure.NewHistogram();
        await Task.Run(async () =>
        {
            for (int i = 0; i < records; i++)
            {
                long start = Stopwatch.GetTimestamp();
                int result = await submitter.SubmitAsync(i);
                histogram.RecordValue(Measure.Nanoseconds(Stopwatch.GetTimestamp() - start));
                if (result != i)
                {
                    throw new InvalidOperationException("a record got another record's result");
                }
            }
        });
        return Measure.Percentiles(histogram);
    }

    private static async Task<TokenBatcher<long, long>> StartAsync(
        SimulatedDevice device, LatencySettings settings, bool waitToFill, double timeoutMilliseconds)
    {
        var batcher = new TokenBatcher<long, long>(device.ProcessAsync, new TokenBatcherOptions<long>
        {
            MaxBatchSize = settings.MaxBatchSize,
            MinBatchSize = waitToFill ? settings.MaxBatchSize : 1,
            BatchTimeout = TimeSpan.FromMilliseconds(timeoutMilliseconds),
            MaxQueueSize = 16 * settings.MaxBatchSize,
        });
        await batcher.StartAsync();
        return batcher;
    }

    private static async Task<double> SaturationAsync(SimulatedDevice device, LatencySettings settings)
    {
        await using var batcher = await StartAsync(device, settings, waitToFill: false, settings.WaitToFillTimeoutMilliseconds);
        int producers = 4 * settings.MaxBatchSize;
        long done = 0;
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, producers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await batcher.SubmitAsync(0);
                Interlocked.Increment(ref done);
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(0.5)); // warm-up
        long before = Interlocked.Read(ref done);
        long start = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(settings.SecondsPerLoad / 2));
        double rate = (Interlocked.Read(ref done) - before) / Stopwatch.GetElapsedTime(start).TotalSeconds;
        stop.Cancel();
        await Task.WhenAll(tasks);
        return rate;
    }

    private static async Task<LongHistogram> ClosedLoopLatencyAsync(TokenBatcher<long, long> batcher, int records)
    {
        var histogram = Measure.NewHistogram();
        await Task.Run(async () =>
        {
            for (int i = 0; i < records + 50; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await batcher.SubmitAsync(start);
                if (i >= 50)
                {
                    histogram.RecordValue(Measure.Nanoseconds(Stopwatch.GetTimestamp() - start));
                }
            }
        });
        return histogram;
    }

    /// <summary>
    /// Open loop at a constant rate: a pacing thread submits every record whose intended time has come (it sleeps
    /// in between), and each record's latency runs from its intended time to its result.
    /// </summary>
    private static async Task<LongHistogram> OpenLoopLatencyAsync(TokenBatcher<long, long> batcher, double rate, double seconds)
    {
        int count = (int)(rate * seconds);
        int warmup = (int)(rate * 0.3);
        var latencies = new long[count];
        var pending = new Task[count];
        double ticksPerRecord = Stopwatch.Frequency / rate;
        long origin = Stopwatch.GetTimestamp();
        var pacer = new Thread(() =>
        {
            for (int i = 0; i < count; i++)
            {
                long intended = origin + (long)(i * ticksPerRecord);
                long now = Stopwatch.GetTimestamp();
                if (intended > now)
                {
                    Measure.Sleep(TimeSpan.FromSeconds((double)(intended - now) / Stopwatch.Frequency));
                }

                pending[i] = TrackAsync(batcher.SubmitAsync(intended), latencies, i, intended);
            }
        })
        { IsBackground = true, Name = "pacer" };
        pacer.Start();
        await Task.Run(pacer.Join);
        await Task.WhenAll(pending);

        var histogram = Measure.NewHistogram();
        for (int i = warmup; i < count; i++)
        {
            histogram.RecordValue(latencies[i]);
        }

        return histogram;
    }

    private static async Task TrackAsync(ValueTask<long> result, long[] latencies, int index, long intended)
    {
        await result.ConfigureAwait(false);
        latencies[index] = Measure.Nanoseconds(Stopwatch.GetTimestamp() - intended);
    }

    /// <summary>
    /// Wait-to-fill with one record outstanding: every batch holds one record and goes on its timeout. The process
    /// function reads the clock when it is called; the lateness is that time minus (first submit + timeout).
    /// </summary>
    private static async Task<DispatchLateness> DispatchLatenessAsync(int timeoutMilliseconds, LatencySettings settings)
    {
        var histogram = Measure.NewHistogram();
        long timeoutTicks = (long)(timeoutMilliseconds / 1000.0 * Stopwatch.Frequency);
        long early = 0;
        await using var batcher = new TokenBatcher<long, long>(
            (batch, _) =>
            {
                long late = Stopwatch.GetTimestamp() - (batch[0] + timeoutTicks);
                if (late < 0)
                {
                    Interlocked.Increment(ref early);
                }

                histogram.RecordValue(Measure.Nanoseconds(Math.Max(0, late)));
                return ValueTask.FromResult<IReadOnlyList<long>>(batch);
            },
            new TokenBatcherOptions<long>
            {
                MaxBatchSize = settings.MaxBatchSize,
                MinBatchSize = settings.MaxBatchSize,
                BatchTimeout = TimeSpan.FromMilliseconds(timeoutMilliseconds),
            });
        await batcher.StartAsync();
        int samples = Math.Max(20, (int)(settings.DispatchSecondsPerTimeout * 1000 / timeoutMilliseconds));
        await Task.Run(async () =>
        {
            for (int i = 0; i < samples; i++)
            {
                await batcher.SubmitAsync(Stopwatch.GetTimestamp());
            }
        });
        return new DispatchLateness(timeoutMilliseconds, Measure.Percentiles(histogram), Interlocked.Read(ref early));
    }
}

internal sealed record LatencyReport(
    LatencySettings Settings,
    double SaturationRecordsPerSecond,
    List<NoOpLatency> NoOp,
    List<LoadLatency> Loads,
    List<DispatchLateness> Dispatch);

internal sealed record NoOpLatency(string Name, Percentiles Latency, List<double> RepetitionP99s);

internal sealed record LoadLatency(string Mode, string Load, double OfferedRecordsPerSecond, Percentiles Latency);

/// <summary>How long after first submit + timeout the batch reached the process function; <c>Early</c> counts any before.</summary>
internal sealed record DispatchLateness(int TimeoutMilliseconds, Percentiles Lateness, long Early);
