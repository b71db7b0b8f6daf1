using System.Diagnostics;
using System.Runtime.InteropServices;
using HdrHistogram;

namespace LowLatencyBatcher.Harness;

/// <summary>Measuring utilities shared by the harness commands.</summary>
internal static partial class Measure
{
    /// <summary>Latencies are recorded in nanoseconds, up to a minute, to three significant digits.</summary>
    public static LongHistogram NewHistogram() => new(60L * 1_000_000_000, 3);

    /// <summary>Stopwatch ticks to nanoseconds.</summary>
    public static long Nanoseconds(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static Percentiles Percentiles(LongHistogram histogram) => new(
        histogram.TotalCount,
        histogram.GetValueAtPercentile(50) / 1000.0,
        histogram.GetValueAtPercentile(99) / 1000.0,
        histogram.GetValueAtPercentile(99.9) / 1000.0,
        histogram.GetMaxValue() / 1000.0);

    /// <summary>
    /// Sleeps for about <paramref name="duration"/> without burning a core: nanosleep on Linux (tens of microseconds
    /// of slack), a yield or a millisecond sleep elsewhere.
    /// </summary>
    public static void Sleep(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        if (OperatingSystem.IsLinux())
        {
            long ns = (long)(duration.TotalMicroseconds * 1000);
            var request = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
            _ = NanoSleep(in request, IntPtr.Zero);
            return;
        }

        if (duration < TimeSpan.FromMilliseconds(1))
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(duration);
        }
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in Timespec request, IntPtr remaining);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

/// <summary>Latency percentiles in microseconds.</summary>
internal sealed record Percentiles(long Count, double P50, double P99, double P999, double Max);
