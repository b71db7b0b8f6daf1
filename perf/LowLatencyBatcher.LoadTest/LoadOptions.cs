using System.Globalization;

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

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int(string s, int min, int max) =>
                int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
                    ? v
                    : throw new ArgumentException($"'{s}' is not a whole number in [{min}, {max}].");
            double Seconds(string s) =>
                double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v <= 600
                    ? v
                    : throw new ArgumentException($"'{s}' is not a number of seconds in (0, 600].");

            switch (args[i])
            {
                case "--":
                    return options with { ServerArgs = args[(i + 1)..] };
                case "--help" or "-h":
                    options = options with { Help = true };
                    break;
                case "--url":
                    var url = new Uri(Next());
                    if (!url.IsLoopback)
                    {
                        throw new ArgumentException($"--url must be a loopback address (127.0.0.1, localhost, [::1]); got {url.Host}.");
                    }

                    options = options with { Url = url };
                    break;
                case "--levels":
                    options = options with { Levels = Next().Split(',').Select(s => Int(s, 1, 1024)).ToArray() };
                    break;
                case "--duration":
                    options = options with { Duration = TimeSpan.FromSeconds(Seconds(Next())) };
                    break;
                case "--warmup":
                    options = options with { Warmup = TimeSpan.FromSeconds(Seconds(Next())) };
                    break;
                case "--max-requests":
                    options = options with { MaxRequests = Int(Next(), 1, 10_000_000) };
                    break;
                case "--words":
                    string[] range = Next().Split('-');
                    if (range.Length != 2)
                    {
                        throw new ArgumentException("--words takes MIN-MAX.");
                    }

                    options = options with { MinWords = Int(range[0], 1, 500), MaxWords = Int(range[1], 1, 500) };
                    if (options.MinWords > options.MaxWords)
                    {
                        throw new ArgumentException("--words: MIN must not exceed MAX.");
                    }

                    break;
                case "--inputs":
                    options = options with { Inputs = Int(Next(), 1, 2048) };
                    break;
                case "--overload":
                    options = options with { Overload = Int(Next(), 0, 1024) };
                    break;
                case "--out":
                    options = options with { Out = Next() };
                    break;
                case "--seed":
                    options = options with { Seed = Int(Next(), 0, int.MaxValue) };
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        return options;
    }
}
