using LowLatencyBatcher.Onnx;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;
using TorchSharp;

namespace LowLatencyBatcher.Demo;

/// <summary>The model the demo runs (<c>--model</c>, <c>--backend</c>), its prompts, and what the report says of it.</summary>
internal sealed class DemoModel : IDisposable
{
    private readonly IDisposable[] _owned;
    private readonly Func<double> _paddingEfficiency;

    private DemoModel(ProcessFn<TokenSequence, float[]> process, Func<double> paddingEfficiency, string description, string device, TokenSequence[] prompts, params IDisposable[] owned)
    {
        Process = process;
        _paddingEfficiency = paddingEfficiency;
        Description = description;
        Device = device;
        Prompts = prompts;
        _owned = owned;
    }

    public ProcessFn<TokenSequence, float[]> Process { get; }

    public string Description { get; }

    public string Device { get; }

    public TokenSequence[] Prompts { get; }

    public double PaddingEfficiency => _paddingEfficiency();

    /// <summary>Loads the model the options name (their limits were checked by <see cref="DemoOptions.Parse"/>).</summary>
    public static DemoModel Create(DemoOptions options)
    {
        if (options.Model == "demo")
        {
            var encoderOptions = new DemoEncoderOptions();
            var encoder = new DemoEncoder(encoderOptions);
            TokenBatchRunner runner = TorchRunner(encoder, options, encoderOptions.VocabularySize);
            return new DemoModel(runner.ProcessAsync, () => runner.PaddingEfficiency,
                $"Demo encoder (random weights): {encoderOptions.Layers} layers, width {encoderOptions.ModelDimension}, {encoderOptions.Heads} heads, seed {encoderOptions.Seed}",
                TorchDevice(runner),
                PromptGenerator.Generate(options.Records, options.MinTokens, options.MaxTokens, encoderOptions.VocabularySize, options.Seed),
                runner, encoder);
        }

        MiniLmFiles files = MiniLmFiles.Default.EnsureExist();
        MiniLmTokenizer tokenizer = MiniLmTokenizer.Load(files.VocabularyPath);
        TokenSequence[] prompts = TextPromptGenerator.Generate(tokenizer, options.Records, options.MinTokens, options.MaxTokens, options.Seed);

        if (options.Backend == "onnx")
        {
            var onnx = new OnnxEmbeddingRunner<TokenSequence>(files.ModelPath, record => record.Ids, new OnnxEmbeddingRunnerOptions { PaddingId = tokenizer.PaddingId });
            return new DemoModel(onnx.ProcessAsync, () => onnx.PaddingEfficiency,
                $"{MiniLmFiles.ModelName} on ONNX Runtime (real text, exact token costs)", "cpu (ONNX Runtime)", prompts, onnx);
        }

        BertEncoder bert = BertEncoder.Load(files.ModelPath);
        TokenBatchRunner bertRunner = TorchRunner(bert, options, bert.Options.VocabularySize);
        return new DemoModel(bertRunner.ProcessAsync, () => bertRunner.PaddingEfficiency,
            $"{MiniLmFiles.ModelName} on TorchSharp (weights read in {bert.LoadTime.TotalMilliseconds:F0} ms; real text, exact token costs)",
            TorchDevice(bertRunner), prompts, bertRunner, bert);
    }

    private static TokenBatchRunner TorchRunner(
        torch.nn.Module<torch.Tensor, torch.Tensor, torch.Tensor> model, DemoOptions options, int vocabularySize) => new(model, new TokenBatchRunnerOptions
        {
            Device = options.Device,
            MaxBatchSize = options.MaxBatchSize,
            InitialSequenceLength = options.MaxTokens,
            VocabularySize = vocabularySize, // an id outside the vocabulary fails its record, not the device
        });

    private static string TorchDevice(TokenBatchRunner runner) => runner.Device.type == DeviceType.CPU
        ? $"cpu ({torch.get_num_threads()} torch threads)"
        : runner.Device.ToString();

    public void Dispose()
    {
        foreach (IDisposable owned in _owned)
        {
            owned.Dispose();
        }
    }
}
