using System.Text.Json;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// Copy/compute overlap: a large pinned copy on the copy stream and a matrix-product loop of about the same length
/// on the compute stream, timed with events, against the same work issued on one stream.
/// </summary>
internal static class OverlapCheck
{
    private const long CopyElements = 64L << 20; // 512 MiB of int64
    private const int MatrixSize = 4096;
    private const int Rounds = 3;

    public static bool Run(GpuContext gpu, Utf8JsonWriter json)
    {
        using CudaStream copy = gpu.Factory.CreateStream("copy");
        using CudaStream compute = gpu.Factory.CreateStream("compute");
        using AtenTensor host = gpu.PinnedInt64(CopyElements);
        host.HostInt64.Fill(1);
        AtenTensor device;
        using (copy.Select())
        {
            device = gpu.DeviceInt64(CopyElements);
        }

        using (device)
        using (var load = new MatMulLoad(gpu, compute, MatrixSize))
        {
            void CopyOn(CudaStream stream)
            {
                using (stream.Select())
                {
                    gpu.Torch.Copy(device, host, nonBlocking: true);
                }
            }

            CopyOn(copy);
            copy.Synchronize();
            double copyMs = Enumerable.Range(0, Rounds).Min(_ => gpu.TimeOnDevice(copy, () => CopyOn(copy)));
            double productMs = load.MillisecondsEach(compute);
            int products = (int)Math.Clamp(Math.Round(copyMs / productMs), 1, 500);
            double computeMs = Enumerable.Range(0, Rounds).Min(_ => gpu.TimeOnDevice(compute, () => load.Issue(compute, products)));

            // Serialised: the copy and the products on one stream.
            double serialMs = Enumerable.Range(0, Rounds).Min(_ => gpu.TimeOnDevice(compute, () =>
            {
                CopyOn(compute);
                load.Issue(compute, products);
            }));

            // Overlapped: the copy stream starts with the compute stream and the compute stream ends after both.
            double overlappedMs = Enumerable.Range(0, Rounds).Min(_ =>
            {
                nint start = gpu.Extras.CreateTimingEvent();
                nint copied = gpu.Extras.CreateTimingEvent();
                nint end = gpu.Extras.CreateTimingEvent();
                try
                {
                    gpu.Runtime.RecordEvent(start, compute.Handle);
                    gpu.Runtime.StreamWaitEvent(copy.Handle, start);
                    CopyOn(copy);
                    gpu.Runtime.RecordEvent(copied, copy.Handle);
                    load.Issue(compute, products);
                    gpu.Runtime.StreamWaitEvent(compute.Handle, copied);
                    gpu.Runtime.RecordEvent(end, compute.Handle);
                    return gpu.Extras.ElapsedMilliseconds(start, end);
                }
                finally
                {
                    gpu.Runtime.DestroyEvent(start);
                    gpu.Runtime.DestroyEvent(copied);
                    gpu.Runtime.DestroyEvent(end);
                }
            });

            double ratio = serialMs / overlappedMs;
            double ideal = (copyMs + computeMs) / Math.Max(copyMs, computeMs);
            json.WriteNumber("copy_bytes", CopyElements * sizeof(long));
            json.WriteNumber("copy_ms", Math.Round(copyMs, 3));
            json.WriteNumber("matmul_size", MatrixSize);
            json.WriteNumber("matmuls", products);
            json.WriteNumber("compute_ms", Math.Round(computeMs, 3));
            json.WriteNumber("serial_ms", Math.Round(serialMs, 3));
            json.WriteNumber("overlapped_ms", Math.Round(overlappedMs, 3));
            json.WriteNumber("overlap_ratio", Math.Round(ratio, 3));
            json.WriteNumber("ideal_ratio", Math.Round(ideal, 3));
            // Overlap is real when the two streams together take clearly less than the same work in series.
            return overlappedMs < 0.85 * serialMs;
        }
    }
}
