using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Torch.Native;

/// <summary>
/// glibc's <c>dlopen</c>, reached through function pointers: <see cref="NativeLibrary.Load(string)"/> always
/// opens libraries with <c>RTLD_LOCAL</c>, and the compat shim has to join the global symbol scope.
/// </summary>
internal static unsafe class DynamicLinker
{
    public const int RtldNow = 0x2;
    public const int RtldGlobal = 0x100;
    public const int RtldNoload = 0x4;

    private static readonly delegate* unmanaged<byte*, int, nint> Open;
    private static readonly delegate* unmanaged<byte*> Error;

    static DynamicLinker()
    {
        // glibc 2.34+ has dlopen in libc itself; older ones keep it in libdl.
        foreach (string name in new[] { "libc.so.6", "libdl.so.2" })
        {
            if (NativeLibrary.TryLoad(name, out nint library)
                && NativeLibrary.TryGetExport(library, "dlopen", out nint open)
                && NativeLibrary.TryGetExport(library, "dlerror", out nint error))
            {
                Open = (delegate* unmanaged<byte*, int, nint>)open;
                Error = (delegate* unmanaged<byte*>)error;
                return;
            }
        }
    }

    /// <summary>
    /// Returns a handle to <paramref name="name"/> only if the process has already loaded it (<c>RTLD_NOLOAD</c>,
    /// matched by soname or path); never loads anything.
    /// </summary>
    public static bool TryOpenLoaded(string name, out nint handle)
    {
        handle = 0;
        if (Open == null)
        {
            return false;
        }

        nint utf8 = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            handle = Open((byte*)utf8, RtldNow | RtldNoload);
            return handle != 0;
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }

    /// <summary>Opens <paramref name="path"/> with <paramref name="flags"/>; throws with dlerror's text on failure.</summary>
    public static nint OpenOrThrow(string path, int flags)
    {
        if (Open == null)
        {
            throw new PlatformNotSupportedException("dlopen was not found in libc.so.6 or libdl.so.2.");
        }

        nint utf8 = Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            nint handle = Open((byte*)utf8, flags);
            if (handle == 0)
            {
                throw new DllNotFoundException($"dlopen({path}) failed: {Marshal.PtrToStringUTF8((nint)Error())}");
            }

            return handle;
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }
}
