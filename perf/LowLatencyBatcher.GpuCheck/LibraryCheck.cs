using System.Text.Json;
using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>Which libraries were bound, and that the process maps exactly one cudart (torch's).</summary>
internal static class LibraryCheck
{
    public static bool Run(GpuContext gpu, string torchCuda, int deviceCount, Utf8JsonWriter json)
    {
        IReadOnlyList<string> runtimes = LoadedLibraries.Find("libcudart");
        json.WriteString("libtorch_cuda", torchCuda);
        json.WriteString("cudart_bound", gpu.Runtime.LibraryPath);
        json.WriteString("cudart_found_as", gpu.Runtime.LibrarySource);
        json.WriteStartArray("cudart_mapped");
        foreach (string runtime in runtimes)
        {
            json.WriteStringValue(runtime);
        }

        json.WriteEndArray();
        json.WriteNumber("cuda_runtime_version", gpu.Extras.RuntimeVersion());
        json.WriteNumber("cuda_driver_version", gpu.Extras.DriverVersion());
        json.WriteNumber("device_count", deviceCount);
        json.WriteString("pinned_allocator", gpu.Torch.HasPinnedAllocator ? "aoti_torch_empty_strided_pinned" : "cudaMallocHost");
        bool exactlyOne = runtimes.Count == 1;
        json.WriteBoolean("exactly_one_cudart", exactlyOne);
        return exactlyOne;
    }
}
