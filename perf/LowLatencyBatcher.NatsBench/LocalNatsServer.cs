using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LowLatencyBatcher.NatsBench;

/// <summary>A <c>nats-server -js</c> on 127.0.0.1 for the benchmark's duration: a free port, a temporary store.</summary>
internal sealed class LocalNatsServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _store;

    private LocalNatsServer(Process process, string store, int port)
    {
        _process = process;
        _store = store;
        Url = $"nats://127.0.0.1:{port}";
    }

    public string Url { get; }

    public static async Task<LocalNatsServer> StartAsync()
    {
        string executable = new[] { "/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(dir => Path.Combine(dir, "nats-server"))
            .FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nats-server is not installed (Debian: apt-get install -y nats-server), or pass --url.");
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        string store = Directory.CreateTempSubdirectory("llb-natsbench-").FullName;
        var info = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { "-js", "-a", "127.0.0.1", "-p", port.ToString(), "-sd", store })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new LocalNatsServer(process, store, port);
        for (int i = 0; i < 400; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        await server.DisposeAsync();
        throw new InvalidOperationException($"nats-server did not listen on port {port}.");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_store, recursive: true);
    }
}
