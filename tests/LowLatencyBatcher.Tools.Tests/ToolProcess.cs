using System.Diagnostics;

namespace LowLatencyBatcher.Tools.Tests;

/// <summary>What a finished run of a tool printed and returned.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StandardOutput">Everything on standard output.</param>
/// <param name="StandardError">Everything on standard error.</param>
internal sealed record ToolRun(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The lines on standard error, without empty ones.</summary>
    public string[] ErrorLines => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Checks the shape of a command-line error: exit code 2, one line on standard error, no stack trace; returns the line.</summary>
    public string UsageErrorLine()
    {
        Assert.True(ExitCode == 2, $"exit code {ExitCode}, not 2; stderr:\n{StandardError}\nstdout:\n{StandardOutput}");
        Assert.DoesNotContain("   at ", StandardError + StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", StandardError, StringComparison.Ordinal);
        Assert.True(ErrorLines.Length == 1, $"{ErrorLines.Length} lines on stderr, not 1:\n{StandardError}");
        return ErrorLines[0];
    }
}

/// <summary>Runs a built tool as a real process (<c>dotnet tool.dll args</c>), the way a user's shell does.</summary>
internal static class ToolProcess
{
    /// <summary>No bad invocation comes near this; a tool that hangs instead of failing is killed and the test fails.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    /// <summary>Runs <paramref name="assembly"/> with <paramref name="args"/> in its own folder and waits for it to end.</summary>
    public static async Task<ToolRun> RunAsync(string assembly, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(assembly);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Bound);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(assembly)} {string.Join(' ', args)} did not end within {Bound.TotalSeconds} s.");
        }

        return new ToolRun(process.ExitCode, await output, await error);
    }
}
