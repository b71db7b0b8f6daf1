namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The demo's bad flags: one line naming the flag and the rule, exit code 2.</summary>
public sealed class DemoCommandLineTests
{
    private static readonly string Demo = Repository.ToolAssembly("src/LowLatencyBatcher.Demo");

    [Theory]
    [InlineData("--device gpu", "--device needs auto, cpu, cuda or cuda:N, not 'gpu'.")]
    [InlineData("--buckets 64,32", "--buckets needs a comma-separated list of positive whole numbers, strictly ascending, not '64,32'.")]
    [InlineData("--min-batch-size 100", "--min-batch-size must not exceed --max-batch-size (64).")]
    [InlineData("--seed x", "--seed needs a whole number of at least 0, not 'x'.")]
    [InlineData("--records", "--records needs a value.")]
    [InlineData("--records 0", "--records needs a positive whole number, not '0'.")]
    [InlineData("--max-tokens 600", "--max-tokens is limited to 512 by all-MiniLM-L6-v2, not 600.")]
    [InlineData("--model demo --max-tokens 600", "--max-tokens is limited to 512 by the demo model, not 600.")]
    [InlineData("--model bert", "--model needs one of minilm, demo, not 'bert'.")]
    [InlineData("--model demo --backend onnx", "--backend onnx needs --model minilm: the demo encoder runs on torch only.")]
    [InlineData("--cost-model linear", "--cost-model needs one of sum, padded, not 'linear'.")]
    [InlineData("--frobnicate 1", "Unknown option '--frobnicate' (--help lists the options).")]
    public async Task A_bad_flag_gets_one_line_and_exit_code_2(string args, string expected)
    {
        ToolRun run = await ToolProcess.RunAsync(Demo, args.Split(' '));

        Assert.Equal(expected, run.UsageErrorLine());
    }

    [Fact]
    public async Task Cuda_on_a_cpu_build_says_how_to_get_a_cuda_build()
    {
        // The default build ships the CPU-only libtorch (a -p:TorchBackend=cuda build on a GPU host would run instead).
        ToolRun run = await ToolProcess.RunAsync(Demo, "--device", "cuda", "--records", "10");

        string line = run.UsageErrorLine();
        Assert.StartsWith("--device cuda: ", line, StringComparison.Ordinal);
        Assert.Contains("-p:TorchBackend=cuda", line, StringComparison.Ordinal);
    }
}
