using System.Diagnostics.Metrics;
using LowLatencyBatcher.Hosting;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using TorchSharp;

namespace LowLatencyBatcher.Server;

/// <summary>
/// Builds the embeddings server: Kestrel, a <see cref="TokenBatcher{TRecord, TResult}"/> hosted in-process over the
/// served model (all-MiniLM-L6-v2 on TorchSharp or ONNX Runtime, or the demo encoder), and the endpoints
/// <c>POST /v1/embeddings</c>, <c>GET /v1/models</c>, <c>GET /healthz</c> and <c>GET /metrics</c>.
/// </summary>
public static class EmbeddingsServer
{
    /// <summary>The batcher's name: its options name (section <see cref="BatcherSection"/>) and its metric tag.</summary>
    public const string BatcherName = "embeddings";

    /// <summary>The configuration section the batcher's <see cref="BatcherOptions"/> are bound from.</summary>
    public const string BatcherSection = "Batcher";

    // Both models cover 512 positions.
    private const int MaxSequenceLength = 512;

    /// <summary>Short command-line switches: <c>--model minilm|demo</c> and <c>--backend torch|onnx</c>.</summary>
    private static readonly Dictionary<string, string> Switches = new()
    {
        ["--model"] = $"{EmbeddingsServerOptions.Section}:{nameof(EmbeddingsServerOptions.Model)}",
        ["--backend"] = $"{EmbeddingsServerOptions.Section}:{nameof(EmbeddingsServerOptions.Backend)}",
    };

    /// <summary>
    /// Creates the application from command-line arguments (for example <c>--urls http://127.0.0.1:5080</c>,
    /// <c>--model minilm|demo</c>, <c>--backend torch|onnx</c>, or any setting as <c>--Batcher:MaxQueueSize=256</c>),
    /// <c>appsettings.json</c> and environment variables.
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
        builder.Configuration.AddCommandLine(args, Switches);

        // A failed start is thrown to the caller, who reports it (the server's Program in one line, see StartupErrors);
        // the host's own "Hosting failed to start" error would print it again as a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        AddServices(builder.Services);
        RemoteWorkers.Add(builder); // --workers / --serve-workers nats://…: a gateway to remote workers, or a worker too
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
            .Validate(o => o.Model.ToLowerInvariant() is EmbeddingsServerOptions.MiniLmModel or EmbeddingsServerOptions.DemoModel,
                "Embeddings:Model (--model) must be minilm or demo.")
            .Validate(o => o.Backend.ToLowerInvariant() is EmbeddingsServerOptions.TorchBackend or EmbeddingsServerOptions.OnnxBackend,
                "Embeddings:Backend (--backend) must be torch or onnx.")
            .Validate(o => !(o.Model.Equals(EmbeddingsServerOptions.DemoModel, StringComparison.OrdinalIgnoreCase)
                    && o.Backend.Equals(EmbeddingsServerOptions.OnnxBackend, StringComparison.OrdinalIgnoreCase)),
                "Embeddings:Backend (--backend) onnx needs Embeddings:Model (--model) minilm: the demo encoder runs on torch only.")
            .Validate(o => TorchDevices.IsDeviceName(o.Device), "Embeddings:Device must be auto, cpu, cuda or cuda:N.")
            .Validate(o => o.MaxInputs >= 1, "Embeddings:MaxInputs must be at least 1.")
            .Validate(o => o.MaxInputTokens >= 1 && o.MaxInputTokens <= MaxSequenceLength,
                $"Embeddings:MaxInputTokens must be between 1 and the model's sequence length ({MaxSequenceLength}).")
            .Validate(o => o.MaxRequestBodyBytes >= 1, "Embeddings:MaxRequestBodyBytes must be at least 1.")
            .Validate(o => o.RetryAfterSeconds >= 1, "Embeddings:RetryAfterSeconds must be at least 1.")
            .ValidateOnStart();

        // The served model (Embeddings:Model, Embeddings:Backend), its tokenizer, and its runner.
        services.AddSingleton(provider => ModelInfo.For(provider.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value));
        services.AddSingleton<IInputTokenizer>(provider =>
        {
            EmbeddingsServerOptions options = provider.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value;
            return string.Equals(options.Model, EmbeddingsServerOptions.DemoModel, StringComparison.OrdinalIgnoreCase)
                ? new SimpleTokenizer(provider.GetRequiredService<ModelInfo>().VocabularySize)
                : new MiniLmInputTokenizer(MiniLmTokenizer.Load(ModelRunner.Files(options).EnsureExist().VocabularyPath));
        });

        // The model and its runner are loaded only when the batcher asks for the process function (at start).
        // A TorchSharp runner's buffers are sized for the batch size at start; the batcher follows configuration
        // reloads, so a later Batcher:MaxBatchSize above that size is refused (logged, the running value stays) until a restart.
        services.AddSingleton<RunnerCapacity>();
        services.AddSingleton(provider =>
        {
            int maxBatchSize = provider.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get(BatcherName).MaxBatchSize;
            EmbeddingsServerOptions server = provider.GetRequiredService<IOptions<EmbeddingsServerOptions>>().Value;
            try
            {
                _ = TorchDevices.Resolve(server.Device);
            }
            catch (InvalidOperationException error)
            {
                // CUDA asked for where there is none: a setting this machine cannot honour, reported as one.
                throw new OptionsValidationException(EmbeddingsServerOptions.Section, typeof(EmbeddingsServerOptions),
                    [$"{EmbeddingsServerOptions.Section}:{nameof(EmbeddingsServerOptions.Device)}={server.Device}: {error.Message}"]);
            }

            var runner = ModelRunner.Create(server, maxBatchSize);
            provider.GetRequiredService<RunnerCapacity>().MaxBatchSize = runner.MaxBatchSize;
            ServerLog.ModelLoaded(
                provider.GetRequiredService<ILoggerFactory>().CreateLogger(ServerLog.Category),
                runner.Description, server.Device, runner.MaxBatchSize?.ToString() ?? "any size");
            return runner;
        });
        services.TryAddSingleton<ProcessFn<TokenSequence, float[]>>(provider => provider.GetRequiredService<ModelRunner>().Process);
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
        services.ConfigureOpenTelemetryMeterProvider(
            (provider, metrics) => metrics.AddView(OnlyFrom(provider.GetRequiredService<IMeterFactory>())));
    }

    /// <summary>
    /// A view that drops instruments of meters another host's factory created. The exporter listens to every meter of
    /// the added names in the process, so a second host (a gateway beside a worker, a test's servers) would otherwise
    /// merge its series into this one's: both batchers are named <see cref="BatcherName"/>, and the last observable
    /// callback's value would win.
    /// </summary>
    private static Func<Instrument, MetricStreamConfiguration?> OnlyFrom(IMeterFactory hostMeters) =>
        instrument => instrument.Meter.Scope is IMeterFactory factory && !ReferenceEquals(factory, hostMeters)
            ? MetricStreamConfiguration.Drop
            : null;

    /// <summary>Maps <c>POST /v1/embeddings</c>, <c>GET /v1/models</c>, <c>GET /healthz</c> and <c>GET /metrics</c>.</summary>
    /// <param name="app">The application.</param>
    public static void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseStatusCodePages(); // bodiless errors (404 of an unknown path, 405) get problem details too
        app.MapPost("/v1/embeddings", EmbeddingsEndpoint.HandleAsync);
        app.MapGet("/v1/models", ModelsEndpoint.List);
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
