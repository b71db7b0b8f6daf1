namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The perf harness's bad commands and flags: one line, exit code 2, before any measuring starts.</summary>
public sealed class HarnessCommandLineTests
{
    private static readonly string Harness = Repository.ToolAssembly("perf/LowLatencyBatcher.Harness");

    [Theory]
    [InlineData("frob", "Unknown command 'frob': use gate, latency, priority, throughput, compare, report.")]
    [InlineData("gate --quick", "Unknown option '--quick' for gate (it takes --gates, --baseline, --out, --write-baseline).")]
    [InlineData("gate --gates no-such-file.json", "--gates needs an existing gates file, not 'no-such-file.json' (run from the repository root, or pass the path).")]
    [InlineData("compare --rounds x", "--rounds needs a whole number from 1 to 1000, not 'x'.")]
    [InlineData("throughput --producers 1,a", "--producers needs a comma-separated list of whole numbers from 1 to 4096, not '1,a'.")]
    [InlineData("latency --out", "--out needs a value.")]
    public async Task A_bad_command_or_flag_gets_one_line_and_exit_code_2(string args, string expected)
    {
        ToolRun run = await ToolProcess.RunAsync(Harness, args.Split(' '));

        Assert.Equal(expected, run.UsageErrorLine());
    }
}
