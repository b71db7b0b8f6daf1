using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>
/// A real <c>nats-server -js</c> on 127.0.0.1, on a free port, with its JetStream store in a temporary folder; stopped
/// and its folder deleted on dispose. It can be stopped and started again on the same port and store.
/// </summary>
public sealed class NatsServer : IAsyncDisposable
{
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(30);
    private readonly string _executable;
    private Process? _process;

    private NatsServer(string executable, int port, string storeDir)
    {
        _executable = executable;
        Port = port;
        StoreDir = storeDir;
    }

    /// <summary>The server's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The JetStream store folder.</summary>
    public string StoreDir { get; }

    /// <summary>The server's address.</summary>
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Starts a server; fails when <c>nats-server</c> is not installed.</summary>
    public static async Task<NatsServer> StartAsync()
    {
        string executable = Find()
            ?? throw new InvalidOperationException(
                "nats-server is not installed: these tests need a real NATS server with JetStream. "
                + "Install it (Debian/Ubuntu: sudo apt-get install -y nats-server) or put nats-server on PATH; bash .ci/run installs it.");
        string store = Directory.CreateTempSubdirectory("llb-nats-").FullName;
        var server = new NatsServer(executable, FreePort(), store);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on the same port and store.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-js", "-a", "127.0.0.1", "-p", Port.ToString(), "-sd", StoreDir })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("nats-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        var until = DateTime.UtcNow + StartBound;
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"nats-server exited at start with code {process.ExitCode} (port {Port}, store {StoreDir}).");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new InvalidOperationException($"nats-server did not listen on port {Port} within {StartBound}.");
    }

    /// <summary>Stops the server gracefully (SIGTERM) and waits for it to exit; its store stays.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signals.Terminate(process.Id);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }

        _process?.Dispose();
        _process = null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(StoreDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string? Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]);
        return dirs.Select(dir => Path.Combine(dir, "nats-server")).FirstOrDefault(File.Exists);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
