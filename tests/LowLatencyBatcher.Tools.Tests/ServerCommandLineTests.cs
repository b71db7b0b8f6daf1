using System.Net;
using System.Net.Sockets;

namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The server's bad settings on its command line, and a port in use: one line naming the key, exit code 2.</summary>
public sealed class ServerCommandLineTests
{
    private static readonly string Server = Repository.ToolAssembly("src/LowLatencyBatcher.Server");

    [Theory]
    [InlineData("--Embeddings:Device=gpu", "Embeddings:Device must be auto, cpu, cuda or cuda:N.")]
    [InlineData("--Embeddings:MaxInputs=0", "Embeddings:MaxInputs must be at least 1.")]
    [InlineData("--Batcher:MaxQueueSize=abc", "Batcher:MaxQueueSize needs a value of type Int32, not 'abc'.")]
    [InlineData("--Batcher:MinBatchSize=100", "Batcher:MinBatchSize must not exceed MaxBatchSize (64). Actual value was 100.")]
    [InlineData("--Embeddings:Model=bert", "Embeddings:Model (--model) must be minilm or demo.")]
    [InlineData("--Embeddings:Backend=tpu", "Embeddings:Backend (--backend) must be torch or onnx.")]
    public async Task A_bad_setting_gets_one_line_and_exit_code_2(string setting, string expected)
    {
        ToolRun run = await ToolProcess.RunAsync(Server, "--urls", "http://127.0.0.1:0", setting);

        Assert.Equal(expected, run.UsageErrorLine());
    }

    [Fact]
    public async Task Cuda_on_a_cpu_build_names_the_key_and_says_how_to_get_a_cuda_build()
    {
        ToolRun run = await ToolProcess.RunAsync(Server, "--urls", "http://127.0.0.1:0", "--Embeddings:Device=cuda");

        string line = run.UsageErrorLine();
        Assert.StartsWith("Embeddings:Device=cuda: ", line, StringComparison.Ordinal);
        Assert.Contains("-p:TorchBackend=cuda", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_gets_one_line_and_exit_code_2()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        ToolRun run = await ToolProcess.RunAsync(Server, "--urls", $"http://127.0.0.1:{port}", "--Embeddings:Device=cpu");

        Assert.Equal(
            $"Urls (--urls): Failed to bind to address http://127.0.0.1:{port}: address already in use. Another process listens there: stop it, or pass another port, e.g. --urls http://127.0.0.1:5081.",
            run.UsageErrorLine());
    }
}
