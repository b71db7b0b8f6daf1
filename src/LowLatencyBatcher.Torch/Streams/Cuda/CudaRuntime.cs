using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// The few CUDA runtime entry points the stream seam needs, bound at run time. libtorch's CUDA build ships
/// cudart under a hashed name (<c>libcudart-&lt;hash&gt;.so.12</c>) next to libtorch_cuda, and a pip-installed
/// PyTorch keeps it in <c>nvidia/cuda_runtime/lib</c>, so no fixed <c>DllImport</c> name would find it.
/// </summary>
internal sealed unsafe class CudaRuntime
{
    public const uint StreamNonBlocking = 0x1;
    public const uint EventDisableTiming = 0x2;
    private const int ErrorNotReady = 600;

    private static readonly Lock Gate = new();
    private static CudaRuntime? _instance;

    private readonly delegate* unmanaged<nint*, uint, int> _streamCreateWithFlags;
    private readonly delegate* unmanaged<nint, int> _streamDestroy;
    private readonly delegate* unmanaged<nint, int> _streamSynchronize;
    private readonly delegate* unmanaged<nint, nint, uint, int> _streamWaitEvent;
    private readonly delegate* unmanaged<nint*, uint, int> _eventCreateWithFlags;
    private readonly delegate* unmanaged<nint, nint, int> _eventRecord;
    private readonly delegate* unmanaged<nint, int> _eventQuery;
    private readonly delegate* unmanaged<nint, int> _eventSynchronize;
    private readonly delegate* unmanaged<nint, int> _eventDestroy;
    private readonly delegate* unmanaged<float*, nint, nint, int> _eventElapsedTime;
    private readonly delegate* unmanaged<int, int> _setDevice;
    private readonly delegate* unmanaged<int, byte*> _getErrorString;

    private CudaRuntime(nint library, string path)
    {
        LibraryPath = path;
        _streamCreateWithFlags = (delegate* unmanaged<nint*, uint, int>)Export(library, "cudaStreamCreateWithFlags");
        _streamDestroy = (delegate* unmanaged<nint, int>)Export(library, "cudaStreamDestroy");
        _streamSynchronize = (delegate* unmanaged<nint, int>)Export(library, "cudaStreamSynchronize");
        _streamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)Export(library, "cudaStreamWaitEvent");
        _eventCreateWithFlags = (delegate* unmanaged<nint*, uint, int>)Export(library, "cudaEventCreateWithFlags");
        _eventRecord = (delegate* unmanaged<nint, nint, int>)Export(library, "cudaEventRecord");
        _eventQuery = (delegate* unmanaged<nint, int>)Export(library, "cudaEventQuery");
        _eventSynchronize = (delegate* unmanaged<nint, int>)Export(library, "cudaEventSynchronize");
        _eventDestroy = (delegate* unmanaged<nint, int>)Export(library, "cudaEventDestroy");
        _eventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Export(library, "cudaEventElapsedTime");
        _setDevice = (delegate* unmanaged<int, int>)Export(library, "cudaSetDevice");
        _getErrorString = (delegate* unmanaged<int, byte*>)Export(library, "cudaGetErrorString");
    }

    /// <summary>The cudart file that was bound.</summary>
    public string LibraryPath { get; }

    /// <summary>Binds cudart on first use; call only once libtorch_cuda is loaded (after CUDA was found available).</summary>
    public static CudaRuntime Instance
    {
        get
        {
            lock (Gate)
                return _instance ??= Load();
        }
    }

    public nint CreateStream(uint flags)
    {
        nint stream;
        Check(_streamCreateWithFlags(&stream, flags), "cudaStreamCreateWithFlags");
        return stream;
    }

    public void DestroyStream(nint stream) => Check(_streamDestroy(stream), "cudaStreamDestroy");

    public void SynchronizeStream(nint stream) => Check(_streamSynchronize(stream), "cudaStreamSynchronize");

    public void StreamWaitEvent(nint stream, nint evt) => Check(_streamWaitEvent(stream, evt, 0), "cudaStreamWaitEvent");

    public nint CreateEvent(uint flags)
    {
        nint evt;
        Check(_eventCreateWithFlags(&evt, flags), "cudaEventCreateWithFlags");
        return evt;
    }

    public void RecordEvent(nint evt, nint stream) => Check(_eventRecord(evt, stream), "cudaEventRecord");

    public bool QueryEvent(nint evt)
    {
        int status = _eventQuery(evt);
        if (status == ErrorNotReady)
            return false;
        Check(status, "cudaEventQuery");
        return true;
    }

    public void SynchronizeEvent(nint evt) => Check(_eventSynchronize(evt), "cudaEventSynchronize");

    public void DestroyEvent(nint evt) => Check(_eventDestroy(evt), "cudaEventDestroy");

    /// <summary>Milliseconds between two completed events created without <see cref="EventDisableTiming"/>.</summary>
    public float ElapsedMilliseconds(nint start, nint end)
    {
        float ms;
        Check(_eventElapsedTime(&ms, start, end), "cudaEventElapsedTime");
        return ms;
    }

    public void SetDevice(int device) => Check(_setDevice(device), "cudaSetDevice");

    private void Check(int status, string call)
    {
        if (status != 0)
            throw new InvalidOperationException($"{call} failed with CUDA error {status}: {Marshal.PtrToStringUTF8((nint)_getErrorString(status))}");
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out nint address)
            ? address
            : throw new EntryPointNotFoundException($"{name} is not exported by the CUDA runtime library.");

    private static CudaRuntime Load()
    {
        foreach (string candidate in Candidates())
        {
            if (NativeLibrary.TryLoad(candidate, out nint library))
                return new CudaRuntime(library, candidate);
        }
        throw new DllNotFoundException("No CUDA runtime (libcudart*.so*) was found next to libtorch_cuda or on the loader path.");
    }

    /// <summary>Where cudart may be, the copy next to the loaded libtorch_cuda first (it is the one torch uses).</summary>
    internal static IEnumerable<string> Candidates()
    {
        foreach (string torchCuda in LoadedLibraries.Find("libtorch_cuda"))
        {
            string directory = Path.GetDirectoryName(torchCuda)!;
            string[] searchIn =
            [
                directory,
                Path.Combine(directory, "..", "..", "nvidia", "cuda_runtime", "lib"),
            ];
            foreach (string folder in searchIn.Where(Directory.Exists))
            {
                foreach (string file in Directory.EnumerateFiles(folder, "libcudart*.so*").Order(StringComparer.Ordinal))
                    yield return file;
            }
        }

        // Already loaded by torch under any name: loading it again by path only bumps its reference count.
        foreach (string loaded in LoadedLibraries.Find("libcudart"))
            yield return loaded;

        yield return "libcudart.so.12";
        yield return "libcudart.so.13";
        yield return "libcudart.so";
    }
}
