using Microsoft.AspNetCore.Builder;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>
/// Two servers on real sockets with all-MiniLM-L6-v2, started once for a test class: one on TorchSharp, one on
/// ONNX Runtime, each with its defaults (the model is the default).
/// </summary>
public sealed class RealModelServers : IAsyncLifetime
{
    private readonly Dictionary<string, WebApplication> _apps = [];
    private readonly Dictionary<string, HttpClient> _clients = [];

    public HttpClient Client(string backend) => _clients[backend];

    public async Task InitializeAsync()
    {
        foreach (string backend in new[] { "torch", "onnx" })
        {
            var app = EmbeddingsServer.Build(
            [
                "--urls", "http://127.0.0.1:0",
                "--backend", backend,
                "--Embeddings:Device=cpu",
                "--Batcher:PinPackingThread=false",
                "--Logging:LogLevel:Default=Warning",
            ]);
            _apps[backend] = app;
            await app.StartAsync().WaitAsync(ServerFactory.Bound);
            _clients[backend] = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = ServerFactory.Bound };
        }
    }

    public async Task DisposeAsync()
    {
        foreach (HttpClient client in _clients.Values)
        {
            client.Dispose();
        }

        foreach (WebApplication app in _apps.Values)
        {
            await app.StopAsync().WaitAsync(ServerFactory.Bound);
            await app.DisposeAsync();
        }
    }
}
