using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// The CUDA runtime entry points the stream seam uses, bound at run time from the cudart that libtorch_cuda
/// already loaded (see <see cref="CudaRuntimeLocator"/>): a second cudart beside torch's would have its own
/// state and its streams would mean nothing to torch. Only what the seam calls is bound.
/// </summary>
internal sealed unsafe class CudaRuntime
{
    /// <summary><c>cudaStreamNonBlocking</c>: the stream does not serialise with the legacy default stream.</summary>
    public const uint StreamNonBlocking = 0x1;

    /// <summary><c>cudaEventBlockingSync</c>: a host wait on the event sleeps instead of spinning.</summary>
    public const uint EventBlockingSync = 0x1;

    /// <summary><c>cudaEventDisableTiming</c>: the event records no timestamp, which makes recording cheaper.</summary>
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
    private readonly delegate* unmanaged<int*, int> _getDevice;
    private readonly delegate* unmanaged<int, int> _setDevice;
    private readonly delegate* unmanaged<int, byte*> _getErrorString;

    private CudaRuntime(nint library, string path, string source)
    {
        Library = library;
        LibraryPath = path;
        LibrarySource = source;
        _streamCreateWithFlags = (delegate* unmanaged<nint*, uint, int>)Export(library, "cudaStreamCreateWithFlags");
        _streamDestroy = (delegate* unmanaged<nint, int>)Export(library, "cudaStreamDestroy");
        _streamSynchronize = (delegate* unmanaged<nint, int>)Export(library, "cudaStreamSynchronize");
        _streamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)Export(library, "cudaStreamWaitEvent");
        _eventCreateWithFlags = (delegate* unmanaged<nint*, uint, int>)Export(library, "cudaEventCreateWithFlags");
        _eventRecord = (delegate* unmanaged<nint, nint, int>)Export(library, "cudaEventRecord");
        _eventQuery = (delegate* unmanaged<nint, int>)Export(library, "cudaEventQuery");
        _eventSynchronize = (delegate* unmanaged<nint, int>)Export(library, "cudaEventSynchronize");
        _eventDestroy = (delegate* unmanaged<nint, int>)Export(library, "cudaEventDestroy");
        _getDevice = (delegate* unmanaged<int*, int>)Export(library, "cudaGetDevice");
        _setDevice = (delegate* unmanaged<int, int>)Export(library, "cudaSetDevice");
        // Only for error messages: a runtime without it still works, its errors just carry no text.
        _getErrorString = NativeLibrary.TryGetExport(library, "cudaGetErrorString", out nint text)
            ? (delegate* unmanaged<int, byte*>)text
            : null;
    }

    /// <summary>The handle of the bound library, for callers that need more of its exports.</summary>
    public nint Library { get; }

    /// <summary>The cudart that was bound: a full path, or a file name when the loader found it already loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>Why <see cref="LibraryPath"/> was a candidate (see <see cref="CudaRuntimeCandidate.Source"/>).</summary>
    public string LibrarySource { get; }

    /// <summary>Binds cudart on first use; call only once libtorch_cuda is loaded (after CUDA was found available).</summary>
    public static CudaRuntime Instance
    {
        get
        {
            lock (Gate)
            {
                return _instance ??= Load();
            }
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
        {
            return false;
        }

        Check(status, "cudaEventQuery");
        return true;
    }

    public void SynchronizeEvent(nint evt) => Check(_eventSynchronize(evt), "cudaEventSynchronize");

    public void DestroyEvent(nint evt) => Check(_eventDestroy(evt), "cudaEventDestroy");

    /// <summary>The calling thread's current device.</summary>
    public int GetDevice()
    {
        int device;
        Check(_getDevice(&device), "cudaGetDevice");
        return device;
    }

    public void SetDevice(int device) => Check(_setDevice(device), "cudaSetDevice");

    /// <summary>The runtime's text for <paramref name="status"/>, or a generic one when it has none.</summary>
    public string Describe(int status) =>
        (_getErrorString == null ? null : Marshal.PtrToStringUTF8((nint)_getErrorString(status))) ?? "no description";

    private void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new InvalidOperationException($"{call} failed with CUDA error {status}: {Describe(status)}");
        }
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out nint address)
            ? address
            : throw new EntryPointNotFoundException($"{name} is not exported by the CUDA runtime library.");

    /// <summary>Binds the CUDA runtime at <paramref name="path"/> (for a caller that found it itself).</summary>
    /// <exception cref="DllNotFoundException">The library cannot be loaded.</exception>
    /// <exception cref="EntryPointNotFoundException">A call the seam needs is not exported.</exception>
    internal static CudaRuntime Bind(string path, string source) =>
        NativeLibrary.TryLoad(path, out nint library)
            ? new CudaRuntime(library, path, source)
            : throw new DllNotFoundException($"The CUDA runtime {path} could not be loaded.");

    private static CudaRuntime Load()
    {
        foreach (CudaRuntimeCandidate candidate in CudaRuntimeLocator.Candidates())
        {
            if (candidate.TryOpen(out nint library))
            {
                return new CudaRuntime(library, candidate.Path, candidate.Source);
            }
        }
        throw new DllNotFoundException(
            "No CUDA runtime (libcudart*.so*) was found: none is loaded in this process, none lies next to libtorch_cuda "
            + "or in its pip nvidia folders, and the loader path has none.");
    }
}
