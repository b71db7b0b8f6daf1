using System.Text.Json;
using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The runner's double-buffered ordering under stress, on the seam's streams and events and with the runner's two
/// threads: thousands of batches of random lengths (forcing the buffers to grow) are packed and copied on the copy
/// stream by one thread and read on the compute stream behind a matrix-product delay by the other, with the
/// runner's rules — a slot's permit is held from packing until its computation's event is recorded, the host waits
/// on a slot's copy-done before rewriting its staging buffer, the copy stream waits on the slot's compute-done
/// before overwriting its device buffer, the compute stream waits on the copy-done. Every batch's result is
/// checked exactly. A short second run leaves out the copy stream's wait, to show that the check sees the race
/// the wait prevents.
/// </summary>
internal static class OrderingStressCheck
{
    private const int Ring = 8;
    private const long InitialCapacity = 1024;
    private const long LargestBatch = 16_384;
    private const int DelayMatrixSize = 1024;
    private const int ControlBatches = 400;

    public static bool Run(GpuContext gpu, int batches, Utf8JsonWriter json)
    {
        using CudaStream copy = gpu.Factory.CreateStream("copy");
        using CudaStream compute = gpu.Factory.CreateStream("compute");
        using var delay = new MatMulLoad(gpu, compute, DelayMatrixSize);

        (long mismatches, int reallocations) = Pass(gpu, copy, compute, delay, batches, orderDeviceReuse: true);
        (long raced, _) = Pass(gpu, copy, compute, delay, ControlBatches, orderDeviceReuse: false);

        json.WriteNumber("batches", batches);
        json.WriteNumber("buffer_reallocations", reallocations);
        json.WriteNumber("mismatched_batches", mismatches);
        json.WriteNumber("control_batches_without_device_wait", ControlBatches);
        json.WriteNumber("control_mismatched_batches", raced);
        json.WriteString("control_note", "a positive control count shows the check can see the race the copy stream's wait prevents");
        return mismatches == 0 && reallocations > 0;
    }

    private static (long Mismatches, int Reallocations) Pass(
        GpuContext gpu, CudaStream copy, CudaStream compute, MatMulLoad delay, int batches, bool orderDeviceReuse)
    {
        var random = new Random(20_260_101);
        StressSlot[] slots = [new(gpu, copy, compute, 0, InitialCapacity), new(gpu, copy, compute, 1, InitialCapacity)];
        SemaphoreSlim[] permits = [new(1, 1), new(1, 1)];
        var ring = new AtenTensor[Ring];
        var ringDone = new CudaEvent[Ring];
        var ringBatch = new (long Batch, long Length)[Ring];
        using var toCompute = new System.Collections.Concurrent.BlockingCollection<(long Batch, long Length)>(boundedCapacity: 2);
        long mismatches = 0;
        using var stop = new CancellationTokenSource();
        Exception? copyFailure = null;
        Exception? computeFailure = null;
        try
        {
            for (int r = 0; r < Ring; r++)
            {
                ring[r] = gpu.PinnedInt64(LargestBatch);
                ringDone[r] = gpu.Factory.CreateEvent($"result-done[{r}]", DeviceEventWait.Spin);
                ringBatch[r] = (-1, 0);
            }

            // The runner's copy thread: it packs and copies batch k while the compute thread runs batch k-1.
            var copyThread = new Thread(() =>
            {
                gpu.Factory.BindCurrentThread();
                try
                {
                    for (long k = 0; k < batches; k++)
                    {
                        StressSlot slot = slots[k & 1];
                        long limit = InitialCapacity + (LargestBatch - InitialCapacity) * k / batches;
                        long length = random.NextInt64(1, limit + 1);
                        // Held until the slot's previous computation has been issued and its event recorded.
                        permits[k & 1].Wait(stop.Token);

                        // Host: the staging buffer may still be the source of the slot's previous copy.
                        slot.CopyDone.Synchronize();
                        slot.EnsureCapacity(length);
                        Span<long> staging = slot.Staging.HostInt64[..(int)length];
                        for (int i = 0; i < staging.Length; i++)
                        {
                            staging[i] = Expected(k, i);
                        }

                        // Copy stream: the device buffer may still be read by the slot's previous computation.
                        if (orderDeviceReuse)
                        {
                            copy.Wait(slot.ComputeDone);
                        }

                        using (AtenTensor source = gpu.Torch.Prefix(slot.Staging, length))
                        using (AtenTensor target = gpu.Torch.Prefix(slot.Device, length))
                        using (copy.Select())
                        {
                            gpu.Torch.Copy(target, source, nonBlocking: true);
                        }

                        copy.Record(slot.CopyDone);
                        toCompute.Add((k, length), stop.Token);
                    }
                }
                catch (Exception error)
                {
                    copyFailure = error;
                }
                finally
                {
                    toCompute.CompleteAdding();
                }
            })
            { Name = "gpu-check copy" };

            // The runner's compute thread: after the copy, a delay, then the read of the device buffer; the result
            // goes back to the host into a ring of buffers checked when they come round again.
            var computeThread = new Thread(() =>
            {
                gpu.Factory.BindCurrentThread();
                try
                {
                    foreach ((long k, long length) in toCompute.GetConsumingEnumerable())
                    {
                        StressSlot slot = slots[k & 1];
                        compute.Wait(slot.CopyDone);
                        delay.Issue(compute, 1);
                        using (AtenTensor input = gpu.Torch.Prefix(slot.Device, length))
                        using (AtenTensor output = gpu.Torch.Prefix(slot.Result, length))
                        using (compute.Select())
                        {
                            gpu.Torch.Copy(output, input, nonBlocking: true);
                        }

                        compute.Record(slot.ComputeDone);

                        int r = (int)(k % Ring);
                        mismatches += Verify(ring[r], ringDone[r], ringBatch[r]);
                        using (AtenTensor result = gpu.Torch.Prefix(slot.Result, length))
                        using (AtenTensor host = gpu.Torch.Prefix(ring[r], length))
                        using (compute.Select())
                        {
                            gpu.Torch.Copy(host, result, nonBlocking: true);
                        }

                        compute.Record(ringDone[r]);
                        ringBatch[r] = (k, length);
                        permits[k & 1].Release();
                    }
                }
                catch (Exception error)
                {
                    computeFailure = error;
                    // Let the copy thread stop rather than wait for a permit forever.
                    stop.Cancel();
                }
            })
            { Name = "gpu-check compute" };

            copyThread.Start();
            computeThread.Start();
            copyThread.Join();
            computeThread.Join();
            if ((computeFailure ?? copyFailure) is { } failure)
            {
                throw new InvalidOperationException($"The stress run failed: {failure.Message}", failure);
            }

            for (int r = 0; r < Ring; r++)
            {
                mismatches += Verify(ring[r], ringDone[r], ringBatch[r]);
            }

            compute.Synchronize();
            copy.Synchronize();
            return (mismatches, slots.Sum(slot => slot.Reallocations));
        }
        finally
        {
            foreach (StressSlot slot in slots)
            {
                slot.Dispose();
            }

            for (int r = 0; r < Ring; r++)
            {
                ring[r]?.Dispose();
                ringDone[r]?.Dispose();
            }
            permits[0].Dispose();
            permits[1].Dispose();
        }
    }

    private static long Expected(long batch, int index) => batch * 1_000_003L + index;

    /// <summary>1 when the ring buffer's batch came back different from what was packed, else 0.</summary>
    private static long Verify(AtenTensor buffer, CudaEvent done, (long Batch, long Length) held)
    {
        if (held.Batch < 0)
        {
            return 0;
        }

        done.Synchronize();
        Span<long> values = buffer.HostInt64[..(int)held.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] != Expected(held.Batch, i))
            {
                return 1;
            }
        }
        return 0;
    }
}
