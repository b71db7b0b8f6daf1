using LowLatencyBatcher.CommandLine;

namespace LowLatencyBatcher.LoadTest;

/// <summary>The load test's command line.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        Drives the embeddings server at increasing concurrency and prints requests/s and latency percentiles.

        Usage: dotnet run -c Release --project perf/LowLatencyBatcher.LoadTest -- [options] [-- server settings]

          --url URL             target a running server (loopback only); default: host one in-process on 127.0.0.1
          --levels 1,4,16,64    concurrency levels, in order
          --duration S          measured seconds per level (default 5)
          --warmup S            unmeasured seconds before each level (default 1)
          --max-requests N      cap on measured requests per level (default 20000)
          --words MIN-MAX       words per input (default 8-48)
          --inputs N            inputs per request (default 1)
          --overload N          burst size of the overload probe, 0 to skip (default 64 requests of 64 inputs)
          --seed N              prompt seed (default 7)
          --out FILE            also write the report (Markdown) to FILE
          --help

        Settings after a lone "--" go to the in-process server, e.g. -- --Batcher:MaxQueueSize=256
        """;

    public Uri? Url { get; init; }
    public int[] Levels { get; init; } = [1, 4, 16, 64];
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);
    public int MaxRequests { get; init; } = 20_000;
    public int MinWords { get; init; } = 8;
    public int MaxWords { get; init; } = 48;
    public int Inputs { get; init; } = 1;
    public int Overload { get; init; } = 64;
    public int Seed { get; init; } = 7;
    public string? Out { get; init; }
    public bool Help { get; init; }
    public string[] ServerArgs { get; init; } = [];

    /// <summary>Reads the command line; a flag that breaks its rule throws a <see cref="UsageException"/> naming it.</summary>
    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            switch (name)
            {
                case "--":
                    return options with { ServerArgs = args[(i + 1)..] };
                case "--help" or "-h":
                    options = options with { Help = true };
                    break;
                case "--url":
                    var url = FlagValues.Url(name, FlagValues.Next(args, ref i));
                    if (!url.IsLoopback)
                    {
                        throw UsageException.For(name, $"must be a loopback address (127.0.0.1, localhost, [::1]), not {url.Host}.");
                    }

                    options = options with { Url = url };
                    break;
                case "--levels":
                    options = options with { Levels = FlagValues.IntList(name, FlagValues.Next(args, ref i), 1, 1024) };
                    break;
                case "--duration":
                    options = options with { Duration = TimeSpan.FromSeconds(FlagValues.Real(name, FlagValues.Next(args, ref i), 0, 600)) };
                    break;
                case "--warmup":
                    options = options with { Warmup = TimeSpan.FromSeconds(FlagValues.Real(name, FlagValues.Next(args, ref i), 0, 600)) };
                    break;
                case "--max-requests":
                    options = options with { MaxRequests = FlagValues.Int(name, FlagValues.Next(args, ref i), 1, 10_000_000) };
                    break;
                case "--words":
                    int[] range = FlagValues.Next(args, ref i) is var words && words.Split('-') is { Length: 2 } parts
                        ? [FlagValues.Int(name, parts[0], 1, 500), FlagValues.Int(name, parts[1], 1, 500)]
                        : throw UsageException.For(name, $"needs MIN-MAX (words per input, 1 to 500), not '{words}'.");
                    if (range[0] > range[1])
                    {
                        throw UsageException.For(name, $"needs MIN at most MAX, not '{words}'.");
                    }

                    options = options with { MinWords = range[0], MaxWords = range[1] };
                    break;
                case "--inputs":
                    options = options with { Inputs = FlagValues.Int(name, FlagValues.Next(args, ref i), 1, 2048) };
                    break;
                case "--overload":
                    options = options with { Overload = FlagValues.Int(name, FlagValues.Next(args, ref i), 0, 1024) };
                    break;
                case "--out":
                    options = options with { Out = FlagValues.Next(args, ref i) };
                    break;
                case "--seed":
                    options = options with { Seed = FlagValues.Int(name, FlagValues.Next(args, ref i), 0) };
                    break;
                default:
                    throw new UsageException($"Unknown option '{name}' (--help lists the options).");
            }
        }

        return options;
    }
}
