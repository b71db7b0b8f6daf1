namespace LowLatencyBatcher.GpuCheck;

/// <summary>An owned libtorch tensor handle (<c>AtenTensorHandle</c>), deleted on dispose.</summary>
/// <param name="shim">The shim that made it.</param>
/// <param name="handle">The handle.</param>
/// <param name="elements">The number of elements.</param>
/// <param name="release">Frees memory the tensor only borrows, after the handle is deleted.</param>
internal sealed class AtenTensor(TorchShim shim, nint handle, long elements, Action? release = null) : IDisposable
{
    private nint _handle = handle;

    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(AtenTensor));

    /// <summary>The number of elements.</summary>
    public long Elements => elements;

    /// <summary>The address of the first element (host or device memory).</summary>
    public nint DataPointer => shim.DataPointer(Handle);

    /// <summary>The elements of a host tensor of 64-bit integers, in place.</summary>
    public unsafe Span<long> HostInt64 => new((void*)DataPointer, checked((int)elements));

    /// <summary>The elements of a host tensor of 32-bit floats, in place.</summary>
    public unsafe Span<float> HostFloat32 => new((void*)DataPointer, checked((int)elements));

    public void Dispose()
    {
        nint handle = Interlocked.Exchange(ref _handle, 0);
        if (handle == 0)
        {
            return;
        }

        try
        {
            shim.Delete(handle);
        }
        finally
        {
            release?.Invoke();
        }
    }
}
