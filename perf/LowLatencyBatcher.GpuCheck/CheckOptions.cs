namespace LowLatencyBatcher.GpuCheck;

/// <summary>The command line of the check.</summary>
internal sealed record CheckOptions(string? TorchLib, string? OutFile, int Device, int Batches, bool Help)
{
    public const string Usage =
        "usage: LowLatencyBatcher.GpuCheck [--torch-lib DIR] [--device N] [--batches N] [--out FILE]\n"
        + "  --torch-lib DIR  the folder holding libtorch_cuda.so (default: searched on LD_LIBRARY_PATH)\n"
        + "  --device N       the CUDA device ordinal (default 0)\n"
        + "  --batches N      batches of the ordering stress run, 100..1000000 (default 4000)\n"
        + "  --out FILE       also write the JSON report to FILE";

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a one-line message naming the flag.</summary>
    public static CheckOptions Parse(string[] args)
    {
        string? torchLib = null;
        string? outFile = null;
        int device = 0;
        int batches = 4000;
        bool help = false;
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            int Int(int min, int max)
            {
                string text = Value();
                return int.TryParse(text, out int value) && value >= min && value <= max
                    ? value
                    : throw new ArgumentException($"{flag} must be a whole number from {min} to {max}; got '{text}'.");
            }

            switch (flag)
            {
                case "--torch-lib":
                    torchLib = Value();
                    if (!Directory.Exists(torchLib))
                    {
                        throw new ArgumentException($"--torch-lib must name an existing folder; '{torchLib}' is not one.");
                    }

                    break;
                case "--out":
                    outFile = Value();
                    break;
                case "--device":
                    device = Int(0, 1023);
                    break;
                case "--batches":
                    batches = Int(100, 1_000_000);
                    break;
                case "-h" or "--help":
                    help = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{flag}'; --help lists the flags.");
            }
        }
        return new CheckOptions(torchLib, outFile, device, batches, help);
    }
}
