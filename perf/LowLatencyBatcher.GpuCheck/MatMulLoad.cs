using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>Square float32 matrix products on the device: a computation of known, adjustable length.</summary>
internal sealed class MatMulLoad : IDisposable
{
    private readonly GpuContext _gpu;
    private readonly AtenTensor _a;
    private readonly AtenTensor _b;
    private readonly AtenTensor _c;

    /// <summary>Allocates <c>n × n</c> operands (filled with small values) with <paramref name="stream"/> selected.</summary>
    public MatMulLoad(GpuContext gpu, CudaStream stream, int n)
    {
        _gpu = gpu;
        using AtenTensor host = gpu.Torch.EmptyPinned(gpu.Torch.Float32, sizeof(float), (long)n * n, gpu.Extras);
        Span<float> values = host.HostFloat32;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i % 17) / 17f;
        }

        using (stream.Select())
        {
            _a = gpu.Torch.Empty(gpu.Torch.Float32, onCuda: true, gpu.Device, n, n);
            _b = gpu.Torch.Empty(gpu.Torch.Float32, onCuda: true, gpu.Device, n, n);
            _c = gpu.Torch.Empty(gpu.Torch.Float32, onCuda: true, gpu.Device, n, n);
            using AtenTensor flatA = gpu.Torch.Prefix(_a, (long)n * n);
            using AtenTensor flatB = gpu.Torch.Prefix(_b, (long)n * n);
            gpu.Torch.Copy(flatA, host, nonBlocking: false);
            gpu.Torch.Copy(flatB, host, nonBlocking: false);
        }
        // Warm-up: the first product initialises cuBLAS on this stream.
        Issue(stream, 1);
        stream.Synchronize();
    }

    /// <summary>Issues <paramref name="times"/> products on <paramref name="stream"/>.</summary>
    public void Issue(CudaStream stream, int times)
    {
        using (stream.Select())
        {
            for (int i = 0; i < times; i++)
            {
                _gpu.Torch.MatMul(_c, _a, _b);
            }
        }
    }

    /// <summary>Device milliseconds of one product (the best of a few).</summary>
    public double MillisecondsEach(CudaStream stream) =>
        Enumerable.Range(0, 3).Min(_ => _gpu.TimeOnDevice(stream, () => Issue(stream, 1)));

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
