using System.Diagnostics;

namespace LowLatencyBatcher.NatsBench;

/// <summary>Worker processes (this program in worker mode), stopped by closing their standard input.</summary>
internal sealed class WorkerProcesses : IAsyncDisposable
{
    private readonly List<Process> _processes = [];

    public static async Task<WorkerProcesses> StartAsync(int count, string url, string service, double delayMs, int maxBatch)
    {
        var workers = new WorkerProcesses();
        string self = typeof(WorkerProcesses).Assembly.Location;
        for (int i = 1; i <= count; i++)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
            foreach (string arg in new[] { self, "worker", url, service, $"w{i}", delayMs.ToString(System.Globalization.CultureInfo.InvariantCulture), maxBatch.ToString() })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info)!;
            workers._processes.Add(process);
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
            if (line != "ready")
            {
                await workers.DisposeAsync();
                throw new InvalidOperationException($"worker w{i} did not start: '{line}'");
            }
        }

        return workers;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.StandardInput.Close();
        }

        foreach (var process in _processes)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
            }

            process.Dispose();
        }
    }
}
