using System.Globalization;

namespace LowLatencyBatcher.Demo;

/// <summary>The demo's command-line options.</summary>
internal sealed record DemoOptions
{
    public int? RecordsGiven { get; init; }
    public int Records => RecordsGiven ?? (Model == "demo" ? 3000 : 1000);
    public int Producers { get; init; } = 64;
    public int MinTokens { get; init; } = 8;
    public int? MaxTokensGiven { get; init; }
    public int MaxTokens => MaxTokensGiven ?? (Model == "demo" ? 256 : 128);
    public int TargetBatchTokens { get; init; } = 4096;
    public int MaxBatchSize { get; init; } = 64;
    public int MinBatchSize { get; init; } = 1;
    public double BatchTimeoutMs { get; init; } = 5;
    public int Workers { get; init; } = 2;
    public string Device { get; init; } = "auto";
    public string Model { get; init; } = "minilm";
    public string Backend { get; init; } = "torch";
    public CostModel CostModel { get; init; } = CostModel.Padded;
    public int[] Buckets { get; init; } = [32, 64, 128];
    public int Seed { get; init; } = 42;
    public bool Help { get; init; }

    public const string Usage = """
        Usage: dotnet run -c Release --project src/LowLatencyBatcher.Demo -- [options]

          --records N              records to submit (default 1000; 3000 with --model demo)
          --producers N            concurrent producers, each awaiting its record before the next (default 64)
          --min-tokens N           shortest prompt, in tokens (default 8)
          --max-tokens N           longest prompt, in tokens, at most 512 (default 128; 256 with --model demo)
          --target-batch-tokens N  token budget of one batch (default 4096)
          --max-batch-size N       most records in one batch (default 64)
          --min-batch-size N       fewest records before an early send to an idle worker (default 1)
          --batch-timeout-ms X     longest wait of an open batch, in milliseconds (default 5)
          --workers N              batches in flight; 2 lets the runner prefetch the next batch (default 2)
          --cost-model NAME        sum or padded: how a batch's cost follows from its prompts (default padded)
          --buckets LIST           cost bucket bounds, e.g. 32,64,128, or none (default 32,64,128)
          --model NAME             minilm (all-MiniLM-L6-v2 on real text) or demo (random weights; fast) (default minilm)
          --backend NAME           torch or onnx (ONNX Runtime, CPU; minilm only) (default torch)
          --device NAME            auto, cpu, cuda or cuda:N, for torch (default auto)
          --seed N                 seed of the prompt generator (default 42)
          --help                   show this text
        """;

    public static DemoOptions Parse(string[] args)
    {
        var options = new DemoOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h")
                return options with { Help = true };
            if (i + 1 >= args.Length)
                throw new ArgumentException($"Option {name} needs a value.");
            string value = args[++i];
            options = name switch
            {
                "--records" => options with { RecordsGiven = Positive(name, value) },
                "--producers" => options with { Producers = Positive(name, value) },
                "--min-tokens" => options with { MinTokens = Positive(name, value) },
                "--max-tokens" => options with { MaxTokensGiven = Positive(name, value) },
                "--target-batch-tokens" => options with { TargetBatchTokens = Positive(name, value) },
                "--max-batch-size" => options with { MaxBatchSize = Positive(name, value) },
                "--min-batch-size" => options with { MinBatchSize = Positive(name, value) },
                "--batch-timeout-ms" => options with { BatchTimeoutMs = PositiveReal(name, value) },
                "--workers" => options with { Workers = Positive(name, value) },
                "--device" => options with { Device = value },
                "--model" => options with
                {
                    Model = value is "minilm" or "demo" ? value : throw new ArgumentException($"--model needs minilm or demo, not '{value}'."),
                },
                "--backend" => options with
                {
                    Backend = value is "torch" or "onnx" ? value : throw new ArgumentException($"--backend needs torch or onnx, not '{value}'."),
                },
                "--cost-model" => options with
                {
                    CostModel = Enum.TryParse<CostModel>(value, ignoreCase: true, out var model)
                        ? model
                        : throw new ArgumentException($"--cost-model needs sum or padded, not '{value}'."),
                },
                "--buckets" => options with
                {
                    Buckets = value == "none" ? [] : value.Split(',').Select(bound => Positive(name, bound)).ToArray(),
                },
                "--seed" => options with { Seed = int.Parse(value, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown option {name}."),
            };
        }
        if (options.MinTokens > options.MaxTokens)
            throw new ArgumentException("--min-tokens must not exceed --max-tokens.");
        if (options.Model == "demo" && options.Backend == "onnx")
            throw new ArgumentException("--backend onnx needs --model minilm: the demo encoder runs on torch only.");
        if (options.Model == "minilm" && options.MinTokens < 3)
            throw new ArgumentException("--min-tokens must be at least 3 with --model minilm ([CLS], one word, [SEP]).");
        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) && parsed > 0
            ? parsed
            : throw new ArgumentException($"{name} needs a positive integer, not '{value}'.");

    private static double PositiveReal(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) && parsed > 0
            ? parsed
            : throw new ArgumentException($"{name} needs a positive number, not '{value}'.");
}
