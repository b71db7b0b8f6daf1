using System.Globalization;

namespace LowLatencyBatcher.NatsBench;

/// <summary>The benchmark's command line.</summary>
internal sealed class BenchOptions
{
    public const string Usage =
        "usage: NatsBench [--records N] [--delay-ms MS] [--max-batch N] [--latency-samples N] [--url nats://...]\n"
        + "  --records N          records per throughput run (default 6000)\n"
        + "  --delay-ms MS        the simulated device's time per batch (default 50)\n"
        + "  --max-batch N        records per batch (default 32)\n"
        + "  --latency-samples N  sequential submits per latency run (default 500)\n"
        + "  --url nats://...     an existing NATS server with JetStream (default: start nats-server -js on a free port)";

    public int Records { get; private set; } = 6_000;

    public double DelayMs { get; private set; } = 50;

    public int MaxBatch { get; private set; } = 32;

    public int LatencySamples { get; private set; } = 500;

    public string? Url { get; private set; }

    public bool Help { get; private set; }

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            if (flag is "-h" or "--help")
            {
                options.Help = true;
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{flag}: a value is required.");
            }

            string value = args[++i];
            switch (flag)
            {
                case "--records": options.Records = Int(flag, value, 1, 10_000_000); break;
                case "--delay-ms": options.DelayMs = Double(flag, value, 0, 10_000); break;
                case "--max-batch": options.MaxBatch = Int(flag, value, 1, 4096); break;
                case "--latency-samples": options.LatencySamples = Int(flag, value, 10, 1_000_000); break;
                case "--url":
                    if (!value.StartsWith("nats://", StringComparison.Ordinal))
                    {
                        throw new ArgumentException($"--url: '{value}' must start with nats://.");
                    }

                    options.Url = value;
                    break;
                default: throw new ArgumentException($"{flag}: unknown flag.");
            }
        }

        return options;
    }

    private static int Int(string flag, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{flag}: '{value}' must be an integer from {min} to {max}.");

    private static double Double(string flag, string value, double min, double max) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= min && d <= max
            ? d
            : throw new ArgumentException($"{flag}: '{value}' must be a number from {min} to {max}.");
}
