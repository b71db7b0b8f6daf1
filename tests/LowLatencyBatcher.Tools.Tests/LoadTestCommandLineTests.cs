namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The load test's bad flags, and bad settings for the server it hosts: one line, exit code 2.</summary>
public sealed class LoadTestCommandLineTests
{
    private static readonly string LoadTest = Repository.ToolAssembly("perf/LowLatencyBatcher.LoadTest");

    [Theory]
    [InlineData("--url notaurl", "--url needs an absolute http:// or https:// address, not 'notaurl'.")]
    [InlineData("--url http://example.com", "--url must be a loopback address (127.0.0.1, localhost, [::1]), not example.com.")]
    [InlineData("--levels 1,x", "--levels needs a comma-separated list of whole numbers from 1 to 1024, not '1,x'.")]
    [InlineData("--duration 0", "--duration needs a number above 0 and at most 600, not '0'.")]
    [InlineData("--words 9-3", "--words needs MIN at most MAX, not '9-3'.")]
    [InlineData("--bogus", "Unknown option '--bogus' (--help lists the options).")]
    [InlineData("-- --Batcher:MaxQueueSize=0", "Batcher:MaxQueueSize must be between 1 and 1073741824. Actual value was 0.")]
    public async Task A_bad_flag_gets_one_line_and_exit_code_2(string args, string expected)
    {
        ToolRun run = await ToolProcess.RunAsync(LoadTest, args.Split(' '));

        Assert.Equal(expected, run.UsageErrorLine());
    }
}
