using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;

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

    /// <summary>The flag of each batcher option the demo sets, for the batcher's own rules (see <see cref="BatcherOptions"/>).</summary>
    public static readonly OptionFlags BatcherFlags = new(new Dictionary<string, string>
    {
        [nameof(TokenBatcherOptions<TokenSequence>.TargetBatchTokens)] = "--target-batch-tokens",
        [nameof(TokenBatcherOptions<TokenSequence>.MaxBatchSize)] = "--max-batch-size",
        [nameof(TokenBatcherOptions<TokenSequence>.MinBatchSize)] = "--min-batch-size",
        [nameof(TokenBatcherOptions<TokenSequence>.BatchTimeout)] = "--batch-timeout-ms",
        [nameof(TokenBatcherOptions<TokenSequence>.Workers)] = "--workers",
        [nameof(TokenBatcherOptions<TokenSequence>.CostModel)] = "--cost-model",
        [nameof(TokenBatcherOptions<TokenSequence>.CostBuckets)] = "--buckets",
    });

    /// <summary>Reads the command line; a flag that breaks its rule throws a <see cref="UsageException"/> naming it.</summary>
    public static DemoOptions Parse(string[] args)
    {
        var options = new DemoOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h")
            {
                return options with { Help = true };
            }

            options = name switch
            {
                "--records" => options with { RecordsGiven = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--producers" => options with { Producers = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--min-tokens" => options with { MinTokens = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--max-tokens" => options with { MaxTokensGiven = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--target-batch-tokens" => options with { TargetBatchTokens = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--max-batch-size" => options with { MaxBatchSize = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--min-batch-size" => options with { MinBatchSize = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--batch-timeout-ms" => options with { BatchTimeoutMs = FlagValues.Real(name, FlagValues.Next(args, ref i)) },
                "--workers" => options with { Workers = FlagValues.Int(name, FlagValues.Next(args, ref i)) },
                "--device" => options with { Device = DeviceName(name, FlagValues.Next(args, ref i)) },
                "--model" => options with { Model = FlagValues.Choice(name, FlagValues.Next(args, ref i), "minilm", "demo") },
                "--backend" => options with { Backend = FlagValues.Choice(name, FlagValues.Next(args, ref i), "torch", "onnx") },
                "--cost-model" => options with
                {
                    CostModel = Enum.Parse<CostModel>(FlagValues.Choice(name, FlagValues.Next(args, ref i), "sum", "padded"), ignoreCase: true),
                },
                "--buckets" => options with
                {
                    Buckets = FlagValues.Next(args, ref i) is var value && value == "none" ? [] : FlagValues.IntList(name, value, ascending: true),
                },
                "--seed" => options with { Seed = FlagValues.Int(name, FlagValues.Next(args, ref i), min: 0) },
                _ => throw new UsageException($"Unknown option '{name}' (--help lists the options)."),
            };
        }
        (int modelLimit, string modelName) = options.Model == "demo"
            ? (new DemoEncoderOptions().MaxSequenceLength, "the demo model")
            : (new BertEncoderOptions().MaxSequenceLength, "all-MiniLM-L6-v2");
        if (options.MaxTokens > modelLimit)
        {
            throw UsageException.For("--max-tokens", $"is limited to {modelLimit} by {modelName}, not {options.MaxTokens}.");
        }

        if (options.MinTokens > options.MaxTokens)
        {
            throw UsageException.For("--min-tokens", $"must not exceed --max-tokens ({options.MaxTokens}), not {options.MinTokens}.");
        }

        if (options.Model == "demo" && options.Backend == "onnx")
        {
            throw UsageException.For("--backend", "onnx needs --model minilm: the demo encoder runs on torch only.");
        }

        if (options.Model == "minilm" && options.MinTokens < 3)
        {
            throw UsageException.For("--min-tokens", $"must be at least 3 with --model minilm ([CLS], one word, [SEP]), not {options.MinTokens}.");
        }

        // The batcher's own rules (for example --min-batch-size at most --max-batch-size), in the flags' words.
        _ = BatcherFlags.Check(() => new TokenBatcher<TokenSequence, float[]>(NoProcess, options.BatcherOptions()));
        return options;
    }

    /// <summary>The batcher's options from these flags.</summary>
    public TokenBatcherOptions<TokenSequence> BatcherOptions() => new()
    {
        TargetBatchTokens = TargetBatchTokens,
        MaxBatchSize = MaxBatchSize,
        MinBatchSize = MinBatchSize,
        BatchTimeout = TimeSpan.FromMilliseconds(BatchTimeoutMs),
        Workers = Workers,
        CostModel = CostModel,
        CostBuckets = Buckets,
    };

    private static readonly ProcessFn<TokenSequence, float[]> NoProcess =
        (_, _) => throw new InvalidOperationException("Only the options are checked.");

    private static string DeviceName(string flag, string value) =>
        TorchDevices.IsDeviceName(value)
            ? value
            : throw UsageException.For(flag, $"needs auto, cpu, cuda or cuda:N, not '{value}'.");
}
