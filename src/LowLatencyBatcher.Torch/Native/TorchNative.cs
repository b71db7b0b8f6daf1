using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Torch.Native;

/// <summary>
/// Prepares the process for TorchSharp's native code. On Linux hosts whose libstdc++ predates GCC 13, the build
/// places a compatibility shim next to the application (see <c>native/</c>); it has to be in the global symbol
/// scope before TorchSharp opens its native bridge, so call <see cref="EnsureLoaded"/> before the first
/// <c>torch</c> call. Everything in this library that touches TorchSharp calls it first.
/// </summary>
public static class TorchNative
{
    /// <summary>The file name of the compatibility shim the build places in the application folder.</summary>
    public const string CompatLibraryFileName = "liblltorch_compat.so";

    private static readonly Lock Gate = new();
    private static volatile bool _done;
    private static string? _compatLibraryPath;

    /// <summary>
    /// The shim that <see cref="EnsureLoaded"/> loaded, or <see langword="null"/> when this host needs none
    /// (or <see cref="EnsureLoaded"/> has not run yet).
    /// </summary>
    public static string? CompatLibraryPath => _compatLibraryPath;

    /// <summary>
    /// Loads the compatibility shim from the application folder (<see cref="AppContext.BaseDirectory"/>) with
    /// <c>RTLD_NOW | RTLD_GLOBAL</c> when the build put one there; does nothing otherwise. Idempotent and
    /// thread-safe.
    /// </summary>
    /// <exception cref="DllNotFoundException">The shim exists but could not be loaded.</exception>
    public static void EnsureLoaded()
    {
        if (_done)
        {
            return;
        }

        lock (Gate)
        {
            if (_done)
            {
                return;
            }

            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                // Only the application's own folder is searched: never a path from the environment.
                string candidate = Path.Combine(AppContext.BaseDirectory, CompatLibraryFileName);
                if (File.Exists(candidate))
                {
                    DynamicLinker.OpenOrThrow(candidate, DynamicLinker.RtldNow | DynamicLinker.RtldGlobal);
                    _compatLibraryPath = candidate;
                }
            }

            _done = true;
        }
    }
}
