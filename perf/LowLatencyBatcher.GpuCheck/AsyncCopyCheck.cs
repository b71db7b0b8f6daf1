using System.Diagnostics;
using System.Text.Json;
using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// A pinned host → device copy issued on the seam's copy stream returns to the host at once, its event is not
/// ready (cudaErrorNotReady, 600) until the copy is done, and the data is exact afterwards.
/// </summary>
internal static class AsyncCopyCheck
{
    private const long Elements = 32L << 20; // 256 MiB of int64

    public static bool Run(GpuContext gpu, Utf8JsonWriter json)
    {
        using CudaStream copy = gpu.Factory.CreateStream("copy");
        using CudaEvent done = gpu.Factory.CreateEvent("copy-done", DeviceEventWait.Spin);
        using AtenTensor host = gpu.PinnedInt64(Elements);
        using AtenTensor back = gpu.PinnedInt64(Elements);
        AtenTensor device;
        using (copy.Select())
        {
            device = gpu.DeviceInt64(Elements);
        }

        using (device)
        {
            Span<long> source = host.HostInt64;
            for (int i = 0; i < source.Length; i++)
            {
                source[i] = i * 7L + 3;
            }

            // Warm-up: first use of the allocator and the copy path.
            using (copy.Select())
            {
                gpu.Torch.Copy(device, host, nonBlocking: true);
            }

            copy.Synchronize();

            nint start = gpu.Extras.CreateTimingEvent();
            nint end = gpu.Extras.CreateTimingEvent();
            gpu.Runtime.RecordEvent(start, copy.Handle);
            var issue = Stopwatch.StartNew();
            using (copy.Select())
            {
                gpu.Torch.Copy(device, host, nonBlocking: true);
            }

            double issueMs = issue.Elapsed.TotalMilliseconds;
            copy.Record(done);
            bool readyAtOnce = done.IsCompleted;
            gpu.Runtime.RecordEvent(end, copy.Handle);
            done.Synchronize();
            bool readyAfterWait = done.IsCompleted;
            double deviceMs = gpu.Extras.ElapsedMilliseconds(start, end);
            gpu.Runtime.DestroyEvent(start);
            gpu.Runtime.DestroyEvent(end);

            using (copy.Select())
            {
                gpu.Torch.Copy(back, device, nonBlocking: false);
            }

            bool exact = host.HostInt64.SequenceEqual(back.HostInt64);

            json.WriteNumber("bytes", Elements * sizeof(long));
            json.WriteNumber("issue_ms", Math.Round(issueMs, 3));
            json.WriteNumber("copy_device_ms", Math.Round(deviceMs, 3));
            json.WriteNumber("copy_gb_per_s", Math.Round(Elements * sizeof(long) / (deviceMs / 1e3) / 1e9, 2));
            json.WriteBoolean("event_not_ready_right_after_issue", !readyAtOnce);
            json.WriteBoolean("event_ready_after_host_wait", readyAfterWait);
            json.WriteBoolean("data_exact", exact);
            bool returnedAtOnce = issueMs < deviceMs / 2;
            json.WriteBoolean("issue_returned_before_copy_finished", returnedAtOnce);
            return returnedAtOnce && !readyAtOnce && readyAfterWait && exact;
        }
    }
}
