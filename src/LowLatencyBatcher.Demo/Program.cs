using LowLatencyBatcher;
using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.Demo;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Native;
using Spectre.Console;

// A flag that breaks its rule, here or later (a device this machine lacks), ends the run with one line and exit code 2.
return await CommandLineTool.RunAsync(() => RunAsync(args));

static async Task<int> RunAsync(string[] args)
{
    DemoOptions options = DemoOptions.Parse(args);
    if (options.Help)
    {
        Console.WriteLine(DemoOptions.Usage);
        return 0;
    }

    // Before the first torch call: on GCC-12 hosts this loads the compatibility shim the build placed here.
    TorchNative.EnsureLoaded();
    try
    {
        _ = TorchDevices.Resolve(options.Device);
    }
    catch (InvalidOperationException error)
    {
        throw UsageException.For("--device", $"{options.Device}: {error.Message}");
    }

    using var model = DemoModel.Create(options);
    AnsiConsole.MarkupLine($"[grey]{Markup.Escape(model.Description)}; device {Markup.Escape(model.Device)}[/]");
    TokenSequence[] prompts = model.Prompts;

    // One untimed batch so that one-off costs (allocator warm-up, kernel selection) stay out of the figures.
    await model.Process(prompts.Take(Math.Min(options.MaxBatchSize, prompts.Length)).ToArray(), CancellationToken.None);

    await using var batcher = new TokenBatcher<TokenSequence, float[]>(model.Process, options.BatcherOptions());
    await batcher.StartAsync();

    var load = new LoadGenerator(batcher, prompts, options.Producers);
    LoadResult result = await AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
        .StartAsync(async context =>
        {
            ProgressTask task = context.AddTask($"{options.Records:N0} records, {options.Producers} producers", maxValue: options.Records);
            Task<LoadResult> running = load.RunAsync();
            while (!running.IsCompleted)
            {
                task.Value = load.Completed;
                await Task.WhenAny(running, Task.Delay(100));
            }
            task.Value = load.Completed;
            return await running;
        });

    await batcher.StopAsync();
    string batching = $"{options.CostModel} cost" +
        (options.Buckets.Length == 0 ? ", no buckets" : $", buckets {string.Join('/', options.Buckets)}");
    ReportTable.Write(result, batcher.Stats, model.PaddingEfficiency, model.Device, batching);
    return 0;
}
