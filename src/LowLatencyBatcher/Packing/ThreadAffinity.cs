using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// Pins the calling thread to one CPU on Linux. .NET has no per-thread affinity API on Unix
/// (<c>ProcessThread.ProcessorAffinity</c> throws there), and Linux affinity is per thread, so the thread itself
/// calls <c>sched_setaffinity(0, ...)</c>.
/// </summary>
internal static partial class ThreadAffinity
{
    private const int MaskBytes = 128; // cpu_set_t: 1,024 CPUs
    private static int s_nextPick;

    /// <summary>
    /// Pins the calling thread to one of the CPUs the process may use, spreading successive callers over them from
    /// the highest down. Returns the CPU, or -1 when pinning is not possible or not useful (not Linux, one CPU
    /// allowed, or the call failed: pinning is a hint, never a reason to fail).
    /// </summary>
    public static unsafe int TryPinCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        try
        {
            byte* mask = stackalloc byte[MaskBytes];
            new Span<byte>(mask, MaskBytes).Clear();
            if (SchedGetAffinity(0, MaskBytes, mask) != 0)
            {
                return -1;
            }

            Span<int> allowed = stackalloc int[MaskBytes * 8];
            int count = 0;
            for (int cpu = MaskBytes * 8 - 1; cpu >= 0; cpu--)
            {
                if ((mask[cpu >> 3] & (1 << (cpu & 7))) != 0)
                {
                    allowed[count++] = cpu;
                }
            }

            if (count < 2)
            {
                return -1; // pinning to the only CPU would gain nothing
            }

            int chosen = allowed[(int)((uint)Interlocked.Increment(ref s_nextPick) - 1) % count]; // atomic: concurrent batchers spread over the CPUs
            new Span<byte>(mask, MaskBytes).Clear();
            mask[chosen >> 3] = (byte)(1 << (chosen & 7));
            return SchedSetAffinity(0, MaskBytes, mask) == 0 ? chosen : -1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static unsafe partial int SchedGetAffinity(int pid, nuint cpuSetSize, byte* mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int pid, nuint cpuSetSize, byte* mask);
}
