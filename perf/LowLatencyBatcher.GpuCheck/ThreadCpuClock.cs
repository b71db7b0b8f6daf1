using System.Runtime.InteropServices;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>The CPU time the calling thread has used (<c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>).</summary>
internal static unsafe partial class ThreadCpuClock
{
    private const int ClockThreadCpuTime = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, TimeSpec* time);

    /// <summary>The calling thread's CPU time in milliseconds.</summary>
    public static double Milliseconds()
    {
        TimeSpec time;
        if (ClockGetTime(ClockThreadCpuTime, &time) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed.");
        }

        return time.Seconds * 1e3 + time.Nanoseconds / 1e6;
    }
}
