using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>One place cudart may be bound from.</summary>
/// <param name="Path">A full path, or a file name for the loader to resolve.</param>
/// <param name="OnlyIfLoaded">True to take the library only if the process already has it (<c>RTLD_NOLOAD</c>).</param>
/// <param name="Source">Why it is a candidate: <c>loaded</c>, <c>loaded-by-name</c>, <c>beside-libtorch_cuda</c>, <c>pip-cu13</c>, <c>pip-cu12</c> or <c>loader-path</c>.</param>
internal readonly record struct CudaRuntimeCandidate(string Path, bool OnlyIfLoaded, string Source)
{
    /// <summary>Opens the candidate; false when it is absent (or, with <see cref="OnlyIfLoaded"/>, not loaded yet).</summary>
    public bool TryOpen(out nint library) =>
        OnlyIfLoaded
            ? DynamicLinker.TryOpenLoaded(Path, out library)
            : NativeLibrary.TryLoad(Path, out library);
}
