using System.Text.Json;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The seam's <c>Select()</c>: inside it torch's current stream on this thread is ours, another thread still sees
/// its own current stream, and after it the thread's stream is back. Creating a stream leaves the thread's
/// current device as it was.
/// </summary>
internal static class StreamSelectionCheck
{
    public static bool Run(GpuContext gpu, int deviceCount, Utf8JsonWriter json)
    {
        int device = gpu.Device;
        using CudaStream stream = gpu.Factory.CreateStream("selected");
        nint before = gpu.Torch.CurrentCudaStream(device);
        nint inside;
        nint otherThread = -1;
        using (stream.Select())
        {
            inside = gpu.Torch.CurrentCudaStream(device);
            var other = new Thread(() => otherThread = gpu.Torch.CurrentCudaStream(device));
            other.Start();
            other.Join();
        }
        nint after = gpu.Torch.CurrentCudaStream(device);

        json.WriteString("our_stream", Hex(stream.Handle));
        json.WriteString("current_before", Hex(before));
        json.WriteString("current_inside", Hex(inside));
        json.WriteString("current_on_other_thread_inside", Hex(otherThread));
        json.WriteString("current_after", Hex(after));
        bool selected = inside == stream.Handle && before != stream.Handle;
        bool threadLocal = otherThread == before;
        bool reverted = after == before;
        json.WriteBoolean("selected_inside", selected);
        json.WriteBoolean("other_thread_unaffected", threadLocal);
        json.WriteBoolean("reverted_after", reverted);

        bool deviceKept = true;
        if (deviceCount > 1)
        {
            int elsewhere = (device + 1) % deviceCount;
            gpu.Runtime.SetDevice(elsewhere);
            using (gpu.Factory.CreateStream("on-other-device"))
            using (gpu.Factory.CreateEvent("on-other-device", Torch.Streams.DeviceEventWait.Spin))
            {
                deviceKept = gpu.Runtime.GetDevice() == elsewhere;
            }

            gpu.Runtime.SetDevice(device);
            json.WriteBoolean("creating_keeps_current_device", deviceKept);
        }
        else
        {
            json.WriteString("creating_keeps_current_device", "not checked: one device");
        }
        return selected && threadLocal && reverted && deviceKept;
    }

    private static string Hex(nint value) => $"0x{value:x}";
}
