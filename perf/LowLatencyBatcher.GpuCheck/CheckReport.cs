using System.Text.Json;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>Writes one check's section of the report and keeps whether every check passed.</summary>
internal sealed class CheckReport(Utf8JsonWriter json)
{
    public Utf8JsonWriter Json => json;

    /// <summary>True until a check fails or throws.</summary>
    public bool AllPassed { get; private set; } = true;

    /// <summary>
    /// Runs <paramref name="check"/> inside a JSON object named <paramref name="name"/>; the check writes its
    /// measurements and returns whether it passed. An exception is reported in the object and counts as a failure.
    /// </summary>
    /// <remarks>Progress goes to stderr as each check starts and ends, so a crash still shows where it happened.</remarks>
    public void Run(string name, Func<Utf8JsonWriter, bool> check)
    {
        Console.Error.WriteLine($"gpu-check: {name} ...");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        json.WriteStartObject(name);
        bool ok;
        try
        {
            ok = check(json);
        }
        catch (Exception exception)
        {
            json.WriteString("error", $"{exception.GetType().Name}: {exception.Message}");
            ok = false;
        }
        json.WriteBoolean("ok", ok);
        json.WriteEndObject();
        AllPassed &= ok;
        Console.Error.WriteLine($"gpu-check: {name} {(ok ? "passed" : "FAILED")} ({clock.Elapsed.TotalSeconds:F1} s)");
    }
}
