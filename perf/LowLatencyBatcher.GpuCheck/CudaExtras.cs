using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The cudart calls the check needs beyond the seam's (device count, versions, event timing), bound from the
/// same library handle the seam bound.
/// </summary>
internal sealed unsafe class CudaExtras
{
    private readonly CudaRuntime _runtime;
    private readonly delegate* unmanaged<int*, int> _getDeviceCount;
    private readonly delegate* unmanaged<int*, int> _runtimeGetVersion;
    private readonly delegate* unmanaged<int*, int> _driverGetVersion;
    private readonly delegate* unmanaged<float*, nint, nint, int> _eventElapsedTime;
    private readonly delegate* unmanaged<void**, nuint, int> _mallocHost;
    private readonly delegate* unmanaged<void*, int> _freeHost;

    public CudaExtras(CudaRuntime runtime)
    {
        _runtime = runtime;
        _getDeviceCount = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(runtime.Library, "cudaGetDeviceCount");
        _runtimeGetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(runtime.Library, "cudaRuntimeGetVersion");
        _driverGetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(runtime.Library, "cudaDriverGetVersion");
        _eventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)NativeLibrary.GetExport(runtime.Library, "cudaEventElapsedTime");
        _mallocHost = (delegate* unmanaged<void**, nuint, int>)NativeLibrary.GetExport(runtime.Library, "cudaMallocHost");
        _freeHost = (delegate* unmanaged<void*, int>)NativeLibrary.GetExport(runtime.Library, "cudaFreeHost");
    }

    /// <summary>The number of devices, or the CUDA error that kept the runtime from counting them.</summary>
    public (int Count, int Status, string Message) DeviceCount()
    {
        int count;
        int status = _getDeviceCount(&count);
        return (status == 0 ? count : 0, status, status == 0 ? "" : _runtime.Describe(status));
    }

    public int RuntimeVersion()
    {
        int version;
        return _runtimeGetVersion(&version) == 0 ? version : -1;
    }

    public int DriverVersion()
    {
        int version;
        return _driverGetVersion(&version) == 0 ? version : -1;
    }

    /// <summary>Page-locked host memory of <paramref name="bytes"/> bytes.</summary>
    public nint MallocHost(long bytes)
    {
        void* memory;
        Check(_mallocHost(&memory, (nuint)bytes), "cudaMallocHost");
        return (nint)memory;
    }

    public void FreeHost(nint memory) => Check(_freeHost((void*)memory), "cudaFreeHost");

    /// <summary>An event that records time (flags 0), for measuring only: the seam's own events never do.</summary>
    public nint CreateTimingEvent() => _runtime.CreateEvent(0);

    /// <summary>Milliseconds between two completed timing events.</summary>
    public float ElapsedMilliseconds(nint start, nint end)
    {
        _runtime.SynchronizeEvent(end);
        float ms;
        Check(_eventElapsedTime(&ms, start, end), "cudaEventElapsedTime");
        return ms;
    }

    private void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new InvalidOperationException($"{call} failed with CUDA error {status}: {_runtime.Describe(status)}");
        }
    }
}
