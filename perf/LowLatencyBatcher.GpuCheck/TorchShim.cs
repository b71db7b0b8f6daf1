using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The part of libtorch's exported C shim (<c>torch/csrc/inductor/aoti_torch/c/shim.h</c>) the check uses to
/// make and move tensors: the same ATen ops and caching allocators TorchSharp reaches, without TorchSharp.
/// </summary>
internal sealed unsafe class TorchShim
{
    private readonly delegate* unmanaged<long, long*, long*, int, int, int, nint*, int> _emptyStrided;
    private readonly delegate* unmanaged<long, long*, long*, int, int, int, nint*, int> _emptyStridedPinned;
    private readonly delegate* unmanaged<void*, long, long*, long*, long, int, int, int, nint*, int> _fromBlob;
    private readonly delegate* unmanaged<nint, long, long*, long*, long, nint*, int> _reinterpret;
    private readonly delegate* unmanaged<nint, int> _deleteTensor;
    private readonly delegate* unmanaged<nint, void**, int> _getDataPtr;
    private readonly delegate* unmanaged<nint, nint, int, int> _copy;
    private readonly delegate* unmanaged<nint, nint, nint, int> _mmOut;
    private readonly delegate* unmanaged<int, void**, int> _currentCudaStream;

    private TorchShim(IReadOnlyList<nint> libraries)
    {
        nint Find(string name, bool required = true)
        {
            foreach (nint library in libraries)
            {
                if (NativeLibrary.TryGetExport(library, name, out nint address))
                {
                    return address;
                }
            }
            return required ? throw new EntryPointNotFoundException($"{name} is not exported by libtorch_cpu or libtorch_cuda.") : 0;
        }

        Float32 = ((delegate* unmanaged<int>)Find("aoti_torch_dtype_float32"))();
        Int64 = ((delegate* unmanaged<int>)Find("aoti_torch_dtype_int64"))();
        Cpu = ((delegate* unmanaged<int>)Find("aoti_torch_device_type_cpu"))();
        Cuda = ((delegate* unmanaged<int>)Find("aoti_torch_device_type_cuda"))();
        _emptyStrided = (delegate* unmanaged<long, long*, long*, int, int, int, nint*, int>)Find("aoti_torch_empty_strided");
        _emptyStridedPinned = (delegate* unmanaged<long, long*, long*, int, int, int, nint*, int>)Find("aoti_torch_empty_strided_pinned", required: false);
        _fromBlob = (delegate* unmanaged<void*, long, long*, long*, long, int, int, int, nint*, int>)Find("aoti_torch_create_tensor_from_blob");
        _reinterpret = (delegate* unmanaged<nint, long, long*, long*, long, nint*, int>)Find("aoti_torch__reinterpret_tensor");
        _deleteTensor = (delegate* unmanaged<nint, int>)Find("aoti_torch_delete_tensor_object");
        _getDataPtr = (delegate* unmanaged<nint, void**, int>)Find("aoti_torch_get_data_ptr");
        _copy = (delegate* unmanaged<nint, nint, int, int>)Find("aoti_torch_copy_");
        _mmOut = (delegate* unmanaged<nint, nint, nint, int>)Find("aoti_torch_mm_out");
        // Exported by libtorch_cuda only: absent when the shim is bound from libtorch_cpu alone.
        _currentCudaStream = (delegate* unmanaged<int, void**, int>)Find("aoti_torch_get_current_cuda_stream", required: false);
    }

    public int Float32 { get; }

    public int Int64 { get; }

    public int Cpu { get; }

    public int Cuda { get; }

    /// <summary>True when libtorch exports <c>aoti_torch_empty_strided_pinned</c> (its pinned caching allocator).</summary>
    public bool HasPinnedAllocator => _emptyStridedPinned != null;

    /// <summary>Binds the shim from the mapped libtorch_cuda and libtorch_cpu (libtorch_cpu alone is enough for CPU tensors).</summary>
    public static TorchShim Bind()
    {
        var handles = new List<nint>();
        foreach (string path in LoadedLibraries.Find("libtorch_cuda").Concat(LoadedLibraries.Find("libtorch_cpu")))
        {
            if (NativeLibrary.TryLoad(path, out nint handle))
            {
                handles.Add(handle);
            }
        }
        return new TorchShim(handles);
    }

    /// <summary>A contiguous tensor of <paramref name="sizes"/> on the CPU or on CUDA device <paramref name="device"/>.</summary>
    public AtenTensor Empty(int dtype, bool onCuda, int device, params long[] sizes) =>
        Make(_emptyStrided, dtype, onCuda ? Cuda : Cpu, onCuda ? device : 0, sizes, "aoti_torch_empty_strided");

    /// <summary>
    /// A contiguous one-dimensional page-locked host tensor: from libtorch's pinned caching allocator (what
    /// <c>pin_memory()</c> uses) where the shim exports it, else <c>cudaMallocHost</c> memory wrapped as a tensor.
    /// </summary>
    public AtenTensor EmptyPinned(int dtype, int elementSize, long elements, CudaExtras cuda)
    {
        if (HasPinnedAllocator)
        {
            return Make(_emptyStridedPinned, dtype, Cpu, 0, [elements], "aoti_torch_empty_strided_pinned");
        }

        nint memory = cuda.MallocHost(elements * elementSize);
        long size = elements;
        long stride = 1;
        nint handle;
        int status = _fromBlob((void*)memory, 1, &size, &stride, 0, dtype, Cpu, 0, &handle);
        if (status != 0)
        {
            cuda.FreeHost(memory);
            Check(status, "aoti_torch_create_tensor_from_blob");
        }
        return new AtenTensor(this, handle, elements, () => cuda.FreeHost(memory));
    }

    /// <summary>A view of the first <paramref name="elements"/> elements of a one-dimensional tensor.</summary>
    public AtenTensor Prefix(AtenTensor tensor, long elements)
    {
        if (elements > tensor.Elements)
        {
            throw new ArgumentOutOfRangeException(nameof(elements), elements, $"The tensor holds only {tensor.Elements} elements.");
        }

        long size = elements;
        long stride = 1;
        nint view;
        Check(_reinterpret(tensor.Handle, 1, &size, &stride, 0, &view), "aoti_torch__reinterpret_tensor");
        return new AtenTensor(this, view, elements);
    }

    /// <summary><c>destination.copy_(source, non_blocking)</c> on the calling thread's current stream.</summary>
    public void Copy(AtenTensor destination, AtenTensor source, bool nonBlocking) =>
        Check(_copy(destination.Handle, source.Handle, nonBlocking ? 1 : 0), "aoti_torch_copy_");

    /// <summary><c>out = a @ b</c> on the calling thread's current stream.</summary>
    public void MatMul(AtenTensor output, AtenTensor a, AtenTensor b) => Check(_mmOut(output.Handle, a.Handle, b.Handle), "aoti_torch_mm_out");

    /// <summary>torch's current CUDA stream of the calling thread for <paramref name="device"/>.</summary>
    public nint CurrentCudaStream(int device)
    {
        if (_currentCudaStream == null)
        {
            throw new EntryPointNotFoundException("aoti_torch_get_current_cuda_stream needs libtorch_cuda.");
        }

        void* stream;
        Check(_currentCudaStream(device, &stream), "aoti_torch_get_current_cuda_stream");
        return (nint)stream;
    }

    internal void Delete(nint handle) => Check(_deleteTensor(handle), "aoti_torch_delete_tensor_object");

    internal nint DataPointer(nint handle)
    {
        void* data;
        Check(_getDataPtr(handle, &data), "aoti_torch_get_data_ptr");
        return (nint)data;
    }

    private AtenTensor Make(delegate* unmanaged<long, long*, long*, int, int, int, nint*, int> factory, int dtype, int deviceType, int device, long[] sizes, string call)
    {
        var strides = new long[sizes.Length];
        long stride = 1;
        for (int i = sizes.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= sizes[i];
        }

        nint handle;
        fixed (long* sizesPtr = sizes)
        fixed (long* stridesPtr = strides)
        {
            Check(factory(sizes.Length, sizesPtr, stridesPtr, dtype, deviceType, device, &handle), call);
        }

        return new AtenTensor(this, handle, stride);
    }

    private static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new InvalidOperationException($"{call} failed (AOTI error {status}); libtorch printed the reason on stderr.");
        }
    }
}
