using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Torch.Tests.Fakes;

/// <summary>
/// Builds <c>Native/fake_cudart.c</c> into shared libraries with the machine's C compiler (the one the TorchSharp
/// compat layer's build uses), so the seam's CUDA runtime binding can be tested without CUDA.
/// </summary>
public sealed unsafe class FakeCudaRuntimeLibrary : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("fake-cudart-").FullName;

    public FakeCudaRuntimeLibrary()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Native", "fake_cudart.c");
        Complete = Compile(source, "libcudart.so.13");
        WithoutGetDevice = Compile(source, "libcudart-noget.so.13", "-DFAKE_WITHOUT_GET_DEVICE");
        nint library = NativeLibrary.Load(Complete);
        LastStreamDevice = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "fake_last_stream_device");
        LastStreamFlags = (delegate* unmanaged<uint>)NativeLibrary.GetExport(library, "fake_last_stream_flags");
        LastEventDevice = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "fake_last_event_device");
        LastEventFlags = (delegate* unmanaged<uint>)NativeLibrary.GetExport(library, "fake_last_event_flags");
    }

    /// <summary>The fake with every call the seam binds (and neither cudaEventElapsedTime nor cudaGetErrorString).</summary>
    public string Complete { get; }

    /// <summary>The fake without cudaGetDevice.</summary>
    public string WithoutGetDevice { get; }

    public delegate* unmanaged<int> LastStreamDevice { get; }

    public delegate* unmanaged<uint> LastStreamFlags { get; }

    public delegate* unmanaged<int> LastEventDevice { get; }

    public delegate* unmanaged<uint> LastEventFlags { get; }

    private string Compile(string source, string name, params string[] defines)
    {
        string output = Path.Combine(_folder, name);
        string compiler = new[] { "cc", "gcc" }.FirstOrDefault(OnPath)
            ?? throw new InvalidOperationException("These tests need a C compiler (cc or gcc, which comes with the g++ the TorchSharp compat layer needs).");
        var start = new ProcessStartInfo(compiler) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in new[] { "-shared", "-fPIC", "-O1", "-o", output, source }.Concat(defines))
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{compiler} failed on {source}: {errors}");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(folder => File.Exists(Path.Combine(folder, tool)));

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
