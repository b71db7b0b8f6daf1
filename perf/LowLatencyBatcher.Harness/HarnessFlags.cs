using LowLatencyBatcher.CommandLine;

namespace LowLatencyBatcher.Harness;

/// <summary>The harness's commands and the flags each takes; anything else is a <see cref="UsageException"/>.</summary>
internal static class HarnessFlags
{
    public const string Usage = "usage: LowLatencyBatcher.Harness gate|latency|priority|throughput|compare|report [options] (see Program.cs)";

    /// <summary>Per command: the flags that take a value, and the switches (no value).</summary>
    private static readonly Dictionary<string, (string[] Values, string[] Switches)> Commands = new()
    {
        ["gate"] = (["gates", "baseline", "out"], ["write-baseline"]),
        ["latency"] = (["out"], ["quick"]),
        ["priority"] = (["out"], ["quick"]),
        ["throughput"] = (["producers", "rounds", "out"], []),
        ["compare"] = (["rounds", "out"], ["quick"]),
        ["report"] = (["bench", "perf", "images"], []),
        ["help"] = ([], []),
    };

    /// <summary>The flags given to <paramref name="command"/>, by name without the dashes (a switch maps to "true").</summary>
    public static Dictionary<string, string> Parse(string command, string[] args)
    {
        if (!Commands.TryGetValue(command, out var flags))
        {
            throw new UsageException($"Unknown command '{command}': use {string.Join(", ", Commands.Keys.Where(c => c != "help"))}.");
        }

        var options = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : "";
            if (flags.Switches.Contains(name))
            {
                options[name] = "true";
            }
            else if (flags.Values.Contains(name))
            {
                options[name] = FlagValues.Next(args, ref i);
            }
            else
            {
                string accepted = string.Join(", ", flags.Values.Concat(flags.Switches).Select(f => "--" + f));
                throw new UsageException($"Unknown option '{args[i]}' for {command} ({(accepted.Length == 0 ? "it takes none" : "it takes " + accepted)}).");
            }
        }

        if (options.TryGetValue("gates", out string? gates) && !File.Exists(gates))
        {
            throw UsageException.For("--gates", $"needs an existing gates file, not '{gates}' (run from the repository root, or pass the path).");
        }

        return options;
    }
}
