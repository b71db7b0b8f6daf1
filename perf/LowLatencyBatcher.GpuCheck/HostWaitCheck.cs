using System.Diagnostics;
using System.Text.Json;
using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The CPU a host wait costs: the calling thread's CPU time while it waits on an event behind about 100 ms of
/// device work, for an event made to spin (<see cref="DeviceEventWait.Spin"/>) and one made to sleep
/// (<see cref="DeviceEventWait.Block"/>, <c>cudaEventBlockingSync</c>).
/// </summary>
internal static class HostWaitCheck
{
    private const double TargetMs = 100;
    private const int MatrixSize = 2048;

    public static bool Run(GpuContext gpu, Utf8JsonWriter json)
    {
        using CudaStream compute = gpu.Factory.CreateStream("compute");
        using var load = new MatMulLoad(gpu, compute, MatrixSize);
        int products = (int)Math.Clamp(Math.Ceiling(TargetMs / load.MillisecondsEach(compute)), 1, 100_000);
        json.WriteNumber("matmuls_per_wait", products);

        double blockShare = 1;
        foreach (DeviceEventWait mode in new[] { DeviceEventWait.Spin, DeviceEventWait.Block })
        {
            // Three waits each; the median is reported.
            var cpu = new List<double>();
            var wall = new List<double>();
            for (int round = 0; round < 3; round++)
            {
                using CudaEvent done = gpu.Factory.CreateEvent($"wait-{mode}", mode);
                load.Issue(compute, products);
                compute.Record(done);
                double cpuStart = ThreadCpuClock.Milliseconds();
                var clock = Stopwatch.StartNew();
                done.Synchronize();
                wall.Add(clock.Elapsed.TotalMilliseconds);
                cpu.Add(ThreadCpuClock.Milliseconds() - cpuStart);
            }
            double wallMs = wall.Order().ElementAt(1);
            double cpuMs = cpu.Order().ElementAt(1);
            double share = cpuMs / wallMs;
            json.WriteStartObject(mode == DeviceEventWait.Spin ? "spin" : "blocking_sync");
            json.WriteNumber("wait_wall_ms", Math.Round(wallMs, 3));
            json.WriteNumber("wait_cpu_ms", Math.Round(cpuMs, 3));
            json.WriteNumber("cpu_share", Math.Round(share, 3));
            json.WriteEndObject();
            if (mode == DeviceEventWait.Block)
            {
                blockShare = share;
            }
        }
        // The blocking event must let the thread sleep; the spinning one is measured, not judged.
        return blockShare < 0.5;
    }
}
