using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Every benchmark runs one invocation per iteration: an invocation moves a fixed, large number of items or records
// (OperationsPerInvoke), so the reported time is per item/record and items/s = 1e9 / Mean (ns).
// Usage: dotnet run -c Release --project perf/LowLatencyBatcher.Benchmarks -- --filter '*EndToEnd*' [--artifacts DIR]
// The idle regime (one submit at a parked batcher, 1,000 one-record iterations): --filter '*IdleBenchmarks*'
// A plain run without --filter opens BenchmarkDotNet's menu; --filter '*' runs the full suite.
var job = Job.Default
    .WithLaunchCount(1)
    .WithWarmupCount(2)
    .WithIterationCount(5)
    .WithInvocationCount(1)
    .WithUnrollFactor(1)
    .WithId("Short");

var config = DefaultConfig.Instance
    .AddJob(job.AsDefault())
    .AddExporter(JsonExporter.Full, MarkdownExporter.GitHub)
    .AddColumn(StatisticColumn.Median)
    .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
