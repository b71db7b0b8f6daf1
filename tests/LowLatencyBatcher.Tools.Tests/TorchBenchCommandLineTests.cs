namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The TorchSharp runner bench's bad flags: one line, exit code 2, before the model loads.</summary>
public sealed class TorchBenchCommandLineTests
{
    private static readonly string TorchBench = Repository.ToolAssembly("perf/LowLatencyBatcher.TorchBench");

    [Theory]
    [InlineData("--records x", "--records needs a positive whole number, not 'x'.")]
    [InlineData("--producers", "--producers needs a value.")]
    [InlineData("--producers 0", "--producers needs a whole number from 1 to 4096, not '0'.")]
    [InlineData("--frob", "Unknown option '--frob': use --records N, --producers N, --out DIR, --padding.")]
    public async Task A_bad_flag_gets_one_line_and_exit_code_2(string args, string expected)
    {
        ToolRun run = await ToolProcess.RunAsync(TorchBench, args.Split(' '));

        Assert.Equal(expected, run.UsageErrorLine());
    }
}
