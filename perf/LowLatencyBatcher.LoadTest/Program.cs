using System.Diagnostics;
using System.Globalization;
using LowLatencyBatcher;
using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.LoadTest;
using LowLatencyBatcher.Server;
using LowLatencyBatcher.Torch;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// A bad flag, or a bad server setting after "--" (a key that breaks its rule, CUDA on a CPU build), ends the run with one
// line naming it, and exit code 2.
return await CommandLineTool.RunAsync(
    () => RunAsync(args),
    error => StartupErrors.Describe(error) is { } line ? new UsageException(line) : null);

static async Task<int> RunAsync(string[] args)
{
    LoadOptions options = LoadOptions.Parse(args);
    if (options.Help)
    {
        Console.WriteLine(LoadOptions.Usage);
        return 0;
    }

    var report = new System.Text.StringBuilder();
    void Line(string text = "")
    {
        Console.WriteLine(text);
        report.AppendLine(text);
    }

    // Either a running server on a loopback address, or one hosted here on 127.0.0.1 with an ephemeral port.
    WebApplication? app = null;
    Uri baseAddress;
    if (options.Url is { } url)
    {
        baseAddress = url;
    }
    else
    {
        app = EmbeddingsServer.Build(
        [
            "--urls", "http://127.0.0.1:0",
            "--contentRoot", AppContext.BaseDirectory,
            "--Logging:LogLevel:Default=Warning",
            .. options.ServerArgs,
        ]);
        await app.StartAsync();
        baseAddress = new Uri(app.Urls.First());
    }

    var total = Stopwatch.StartNew();
    try
    {
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var runner = new LoadRunner(client, options);
        var batcher = app?.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();
        var serverOptions = app?.Services.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value ?? new EmbeddingsServerOptions();

        Line($"Target {baseAddress} ({(app is null ? "external server" : "in-process server")}); {Environment.ProcessorCount} CPUs; "
            + $"{options.Inputs} input(s) of {options.MinWords}-{options.MaxWords} words per request; "
            + $"{options.Warmup.TotalSeconds:0.#} s warm-up + up to {options.Duration.TotalSeconds:0.#} s or {options.MaxRequests} requests per level.");
        Line();
        Line("| concurrency | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | 503 | errors | mean batch |");
        Line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int level in options.Levels)
        {
            BatchStats before = batcher?.Stats ?? default;
            LevelResult result = await runner.RunLevelAsync(level);
            BatchStats after = batcher?.Stats ?? default;
            long batches = after.TotalBatches - before.TotalBatches;
            string meanBatch = batcher is null || batches == 0
                ? "-"
                : ((double)(after.TotalCompleted - before.TotalCompleted) / batches).ToString("0.0", CultureInfo.InvariantCulture);
            Line(string.Create(CultureInfo.InvariantCulture,
                $"| {level} | {result.Ok} | {result.RequestsPerSecond:0} | {result.PercentileMs(50):0.00} | {result.PercentileMs(90):0.00} | {result.PercentileMs(99):0.00} | {result.PercentileMs(100):0.00} | {result.Unavailable} | {result.Errors} | {meanBatch} |"));
        }

        if (options.Overload > 0)
        {
            const int InputsEach = 64;
            OverloadResult overload = await runner.OverloadAsync(options.Overload, Math.Min(InputsEach, serverOptions.MaxInputs));
            Line();
            Line($"Overload probe: {overload.Requests} requests of {overload.InputsEach} inputs at once "
                + $"({overload.Requests * overload.InputsEach} records): {overload.Ok} × 200 ({overload.OkWithAllEmbeddings} with all {overload.InputsEach} embeddings), "
                + $"{overload.Unavailable} × 503 ({overload.UnavailableWithRetryAfter} with Retry-After), {overload.Other} other.");
        }

        Line();
        Line("| bad request | status | answer |");
        Line("|---|---:|---|");
        foreach (var (name, status, code) in await runner.ProbeBadInputAsync(serverOptions.MaxInputs, serverOptions.MaxInputTokens))
        {
            Line($"| {name} | {status} | {code} |");
        }

        if (batcher is not null)
        {
            BatchStats stats = batcher.Stats;
            Line();
            Line(string.Create(CultureInfo.InvariantCulture,
                $"Batcher: {stats.TotalSubmitted} records submitted, {stats.TotalCompleted} completed ({stats.TotalFailed} failed, {stats.TotalCancelled} cancelled), "
                + $"{stats.TotalBatches} batches, mean {stats.AvgBatchSize:0.0} records / {stats.AvgBatchCost:0} tokens per batch, utilization {stats.Utilization:P0}."));
        }
    }
    finally
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    Line($"Done in {total.Elapsed.TotalSeconds:0.0} s.");
    if (options.Out is { } path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, report.ToString());
        Console.WriteLine($"Report written to {path}.");
    }

    return 0;
}
