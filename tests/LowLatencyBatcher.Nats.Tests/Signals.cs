using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Sends POSIX signals to processes the tests started.</summary>
internal static class Signals
{
    private const int SigTerm = 15;

    /// <summary>Asks a process to stop (SIGTERM), as a service manager would.</summary>
    public static void Terminate(int pid)
    {
        if (Kill(pid, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
