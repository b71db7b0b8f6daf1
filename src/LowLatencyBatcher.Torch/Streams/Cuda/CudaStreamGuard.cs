using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// libtorch's exported C shim for selecting the current CUDA stream:
/// <c>aoti_torch_create_cuda_stream_guard(void* stream, int32_t device, CUDAStreamGuardHandle*)</c> and
/// <c>aoti_torch_delete_cuda_stream_guard</c>. TorchSharp 0.107 has no stream API of its own; while a guard
/// lives, every ATen op the creating thread issues on that device goes to the guarded stream. The guard is
/// thread-local state, so it must be created and deleted on the same thread.
/// </summary>
internal static unsafe class CudaStreamGuard
{
    private static readonly Lock Gate = new();
    private static delegate* unmanaged<nint, int, nint*, int> _create;
    private static delegate* unmanaged<nint, int> _delete;

    /// <summary>Deletes a guard made by <see cref="Create"/>, restoring the thread's previous stream.</summary>
    public static readonly Action<nint> Delete = static guard =>
    {
        int status = _delete(guard);
        if (status != 0)
        {
            throw new InvalidOperationException($"aoti_torch_delete_cuda_stream_guard failed ({status}).");
        }
    };

    /// <summary>Selects <paramref name="stream"/> on <paramref name="device"/> for the calling thread.</summary>
    public static nint Create(nint stream, int device)
    {
        Bind();
        nint guard;
        int status = _create(stream, device, &guard);
        if (status != 0)
        {
            throw new InvalidOperationException($"aoti_torch_create_cuda_stream_guard failed ({status}).");
        }

        return guard;
    }

    private static void Bind()
    {
        if (_create != null)
        {
            return;
        }

        lock (Gate)
        {
            if (_create != null)
            {
                return;
            }

            foreach (string path in LoadedLibraries.Find("libtorch_cuda"))
            {
                if (NativeLibrary.TryLoad(path, out nint library)
                    && NativeLibrary.TryGetExport(library, "aoti_torch_create_cuda_stream_guard", out nint create)
                    && NativeLibrary.TryGetExport(library, "aoti_torch_delete_cuda_stream_guard", out nint delete))
                {
                    _delete = (delegate* unmanaged<nint, int>)delete;
                    _create = (delegate* unmanaged<nint, int, nint*, int>)create;
                    return;
                }
            }
            throw new EntryPointNotFoundException("aoti_torch_create_cuda_stream_guard was not found: is libtorch_cuda loaded?");
        }
    }
}
