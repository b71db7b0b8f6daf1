using System.Diagnostics;
using LowLatencyBatcher.Onnx;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;

namespace LowLatencyBatcher.Server;

/// <summary>The served model, loaded and ready: its process function, and what to dispose at shutdown.</summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly IDisposable[] _owned;

    private ModelRunner(ProcessFn<TokenSequence, float[]> process, int? maxBatchSize, string description, params IDisposable[] owned)
    {
        Process = process;
        MaxBatchSize = maxBatchSize;
        Description = description;
        _owned = owned;
    }

    /// <summary>Runs one batch.</summary>
    public ProcessFn<TokenSequence, float[]> Process { get; }

    /// <summary>The largest batch the runner's buffers were sized for, or null when it has no such limit.</summary>
    public int? MaxBatchSize { get; }

    /// <summary>What was loaded, where, and how long it took (for the log).</summary>
    public string Description { get; }

    /// <summary>Loads the model <paramref name="options"/> select.</summary>
    /// <param name="options">The server's settings (model, backend, device, model folder).</param>
    /// <param name="maxBatchSize">The batcher's largest batch at start.</param>
    public static ModelRunner Create(EmbeddingsServerOptions options, int maxBatchSize)
    {
        long start = Stopwatch.GetTimestamp();
        string backend = options.Backend.ToLowerInvariant();
        if (string.Equals(options.Model, EmbeddingsServerOptions.DemoModel, StringComparison.OrdinalIgnoreCase))
        {
            var encoderOptions = new DemoEncoderOptions();
            var encoder = new DemoEncoder(encoderOptions);
            var runner = new TokenBatchRunner(encoder, new TokenBatchRunnerOptions
            {
                Device = options.Device, MaxBatchSize = maxBatchSize, VocabularySize = encoderOptions.VocabularySize,
            });
            return new ModelRunner(runner.ProcessAsync, maxBatchSize, $"{ModelInfo.DemoName} on torch ({runner.Device}) in {Elapsed(start)}", runner, encoder);
        }

        MiniLmFiles files = Files(options).EnsureExist();
        if (backend == EmbeddingsServerOptions.OnnxBackend)
        {
            var onnx = new OnnxEmbeddingRunner<TokenSequence>(files.ModelPath, record => record.Ids);
            return new ModelRunner(onnx.ProcessAsync, null, $"{MiniLmFiles.ModelName} on onnx (cpu) in {Elapsed(start)}", onnx);
        }

        BertEncoder bert = BertEncoder.Load(files.ModelPath);
        try
        {
            var runner = new TokenBatchRunner(bert, new TokenBatchRunnerOptions
            {
                Device = options.Device, MaxBatchSize = maxBatchSize, VocabularySize = bert.Options.VocabularySize,
            });
            return new ModelRunner(runner.ProcessAsync, maxBatchSize, $"{MiniLmFiles.ModelName} on torch ({runner.Device}) in {Elapsed(start)}", runner, bert);
        }
        catch
        {
            bert.Dispose();
            throw;
        }
    }

    /// <summary>The MiniLM files <paramref name="options"/> point at.</summary>
    public static MiniLmFiles Files(EmbeddingsServerOptions options) =>
        string.IsNullOrWhiteSpace(options.ModelDirectory) ? MiniLmFiles.Default : new MiniLmFiles(options.ModelDirectory);

    private static string Elapsed(long start) => $"{Stopwatch.GetElapsedTime(start).TotalMilliseconds:F0} ms";

    public void Dispose()
    {
        foreach (IDisposable owned in _owned)
        {
            owned.Dispose();
        }
    }
}
