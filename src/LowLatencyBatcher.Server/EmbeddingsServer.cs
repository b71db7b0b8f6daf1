using LowLatencyBatcher.Hosting;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using TorchSharp;

namespace LowLatencyBatcher.Server;

/// <summary>
/// Builds the embeddings server: Kestrel, a <see cref="TokenBatcher{TRecord, TResult}"/> hosted in-process over the
/// demo encoder, and the endpoints <c>POST /v1/embeddings</c>, <c>GET /healthz</c> and <c>GET /metrics</c>.
/// </summary>
public static class EmbeddingsServer
{
    /// <summary>The batcher's name: its options name (section <see cref="BatcherSection"/>) and its metric tag.</summary>
    public const string BatcherName = "embeddings";

    /// <summary>The configuration section the batcher's <see cref="BatcherOptions"/> are bound from.</summary>
    public const string BatcherSection = "Batcher";

    /// <summary>
    /// Creates the application from command-line arguments (for example <c>--urls http://127.0.0.1:5080</c>, or any
    /// setting as <c>--Batcher:MaxQueueSize=256</c>), <c>appsettings.json</c> and environment variables.
    /// </summary>
    /// <param name="args">The command-line arguments.</param>
    /// <remarks>
    /// A setting that breaks its rule makes the application's start throw (an <see cref="OptionsValidationException"/>
    /// naming the key); <see cref="StartupErrors.Describe"/> says it in one line.
    /// </remarks>
    /// <param name="configure">
    /// Runs after the server's own registrations, before the application is built (tests replace services here; a
    /// <see cref="ProcessFn{TRecord, TResult}"/> of <see cref="TokenSequence"/> registered here replaces the model).
    /// </param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);

        // A failed start is thrown to the caller, who reports it (the server's Program in one line, see StartupErrors);
        // the host's own "Hosting failed to start" error would print it again as a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        AddServices(builder.Services);
        configure?.Invoke(builder);

        var app = builder.Build();
        MapEndpoints(app);
        return app;
    }

    /// <summary>Registers the model, the tokenizer, the batcher, health checks, problem details and metrics.</summary>
    /// <param name="services">The application's services.</param>
    public static void AddServices(IServiceCollection services)
    {
        services.AddOptions<EmbeddingsServerOptions>()
            .BindConfiguration(EmbeddingsServerOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.Model), "Embeddings:Model must not be empty.")
            .Validate(o => TorchDevices.IsDeviceName(o.Device), "Embeddings:Device must be auto, cpu, cuda or cuda:N.")
            .Validate(o => o.MaxInputs >= 1, "Embeddings:MaxInputs must be at least 1.")
            .Validate(o => o.MaxInputTokens >= 1 && o.MaxInputTokens <= new DemoEncoderOptions().MaxSequenceLength,
                $"Embeddings:MaxInputTokens must be between 1 and the model's sequence length ({new DemoEncoderOptions().MaxSequenceLength}).")
            .Validate(o => o.MaxRequestBodyBytes >= 1, "Embeddings:MaxRequestBodyBytes must be at least 1.")
            .Validate(o => o.RetryAfterSeconds >= 1, "Embeddings:RetryAfterSeconds must be at least 1.")
            .ValidateOnStart();

        services.AddSingleton(new DemoEncoderOptions());
        services.AddSingleton(provider =>
        {
            var encoder = provider.GetRequiredService<DemoEncoderOptions>();
            return new ModelInfo(provider.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value.Model, encoder.ModelDimension, encoder.VocabularySize);
        });
        services.AddSingleton(provider => new SimpleTokenizer(provider.GetRequiredService<ModelInfo>().VocabularySize));

        // The model and its runner are built only when the batcher asks for the process function (at start).
        services.AddSingleton(provider => new DemoEncoder(provider.GetRequiredService<DemoEncoderOptions>()));
        // The runner's buffers are sized for the batch size at start; the batcher follows configuration reloads, so a
        // later Batcher:MaxBatchSize above that size is refused (logged, the running value stays) until a restart.
        services.AddSingleton<RunnerCapacity>();
        services.AddSingleton(provider =>
        {
            int maxBatchSize = provider.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get(BatcherName).MaxBatchSize;
            provider.GetRequiredService<RunnerCapacity>().MaxBatchSize = maxBatchSize;
            EmbeddingsServerOptions server = provider.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value;
            torch.Device device;
            try
            {
                device = TorchDevices.Resolve(server.Device);
            }
            catch (InvalidOperationException error)
            {
                // CUDA asked for where there is none: a setting this machine cannot honour, reported as one.
                throw new OptionsValidationException(EmbeddingsServerOptions.Section, typeof(EmbeddingsServerOptions),
                    [$"{EmbeddingsServerOptions.Section}:{nameof(EmbeddingsServerOptions.Device)}={server.Device}: {error.Message}"]);
            }

            var runner = new TokenBatchRunner(provider.GetRequiredService<DemoEncoder>(), new TokenBatchRunnerOptions
            {
                Device = device.ToString(),
                MaxBatchSize = maxBatchSize,
            });
            var encoder = provider.GetRequiredService<DemoEncoderOptions>();
            ServerLog.ModelLoaded(
                provider.GetRequiredService<ILoggerFactory>().CreateLogger(ServerLog.Category),
                server.Model, encoder.Layers, encoder.ModelDimension, encoder.MaxSequenceLength,
                runner.Device.type == DeviceType.CPU ? $"cpu ({torch.get_num_threads()} torch threads)" : runner.Device.ToString(),
                server.Device, maxBatchSize);
            return runner;
        });
        services.TryAddSingleton<ProcessFn<TokenSequence, float[]>>(provider => provider.GetRequiredService<TokenBatchRunner>().ProcessAsync);
        services.AddTokenBatcher<TokenSequence, float[]>(
                provider => provider.GetRequiredService<ProcessFn<TokenSequence, float[]>>(), BatcherName)
            .BindConfiguration(BatcherSection)
            .Validate<RunnerCapacity>(
                (options, capacity) => capacity.MaxBatchSize is not int limit || options.MaxBatchSize <= limit,
                "Batcher:MaxBatchSize cannot grow past the batch size the model runner was created for; restart the server to raise it.");

        services.AddProblemDetails();
        services.AddHealthChecks().AddCheck<BatcherHealthCheck>("batcher");
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(BatcherMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
    }

    /// <summary>Maps <c>POST /v1/embeddings</c>, <c>GET /healthz</c> and <c>GET /metrics</c>.</summary>
    /// <param name="app">The application.</param>
    public static void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseStatusCodePages(); // bodiless errors (404 of an unknown path, 405) get problem details too
        app.MapPost("/v1/embeddings", EmbeddingsEndpoint.HandleAsync);
        app.MapHealthChecks("/healthz");
        app.MapPrometheusScrapingEndpoint("/metrics");
    }
}

/// <summary>The batch size the model runner was created for, once it exists (a stand-in model has no such limit).</summary>
internal sealed class RunnerCapacity
{
    private int _maxBatchSize;

    /// <summary>The runner's largest batch, or null before it was created.</summary>
    public int? MaxBatchSize
    {
        get => Volatile.Read(ref _maxBatchSize) is > 0 and var size ? size : null;
        set => Volatile.Write(ref _maxBatchSize, value ?? 0);
    }
}
