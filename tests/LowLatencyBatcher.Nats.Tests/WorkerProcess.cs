using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>A test worker running as a separate process (LowLatencyBatcher.Nats.TestWorker), configured by command-line arguments.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyBound = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _stderr = new();
    private string? _countsLine;

    private WorkerProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "ready")
            {
                _ready.TrySetResult();
            }
            else if (e.Data?.StartsWith("counts ", StringComparison.Ordinal) == true)
            {
                _countsLine = e.Data["counts ".Length..];
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"Worker {name} exited before it was ready: {Stderr}"));
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The worker's id (its WorkerId in results).</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>What the worker wrote to standard error.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts a worker for <paramref name="url"/> and <paramref name="service"/> and waits until it takes records.</summary>
    /// <param name="url">The NATS server.</param>
    /// <param name="service">The service name.</param>
    /// <param name="name">The worker's id.</param>
    /// <param name="settings">More configuration, as <c>Section:Key</c> → value.</param>
    public static async Task<WorkerProcess> StartAsync(string url, string service, string name, IDictionary<string, string>? settings = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "LowLatencyBatcher.Nats.TestWorker.dll");
        Assert.True(File.Exists(dll), $"The test worker is missing at {dll}; build the tests.");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        var all = new Dictionary<string, string>
        {
            ["BatcherWorker:Url"] = url,
            ["BatcherWorker:Service"] = service,
            ["BatcherWorker:WorkerId"] = name,
            ["Batcher:QueueFullMode"] = "Reject",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        var worker = new WorkerProcess(process, name);
        try
        {
            await worker._ready.Task.WaitAsync(ReadyBound);
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }

        return worker;
    }

    /// <summary>Waits until the process has exited by itself.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Kills the worker at once (SIGKILL): nothing in it gets a chance to finish.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>Stops the worker gracefully (SIGTERM) and returns its counts.</summary>
    public async Task<WorkerCounts> StopAsync()
    {
        if (!_process.HasExited)
        {
            Signals.Terminate(_process.Id);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
        Assert.True(_countsLine is not null, $"Worker {Name} printed no counts; stderr: {Stderr}");
        return JsonSerializer.Deserialize<WorkerCounts>(_countsLine);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
