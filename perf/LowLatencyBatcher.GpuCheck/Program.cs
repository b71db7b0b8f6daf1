using System.Runtime.InteropServices;
using System.Text.Json;
using LowLatencyBatcher.GpuCheck;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Streams.Cuda;

// Checks LowLatencyBatcher's CUDA stream seam against this machine's libtorch_cuda and cudart and prints one JSON
// report. Exit codes: 0 every check passed, or there is no CUDA here (the report says why); 1 a check failed;
// 2 a bad argument.
CheckOptions options;
try
{
    options = CheckOptions.Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine($"gpu-check: {error.Message}");
    return 2;
}
if (options.Help)
{
    Console.WriteLine(CheckOptions.Usage);
    return 0;
}

using var buffer = new MemoryStream();
int exitCode;
using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
{
    json.WriteStartObject();
    json.WriteString("check", "LowLatencyBatcher.GpuCheck");
    json.WriteString("utc", DateTime.UtcNow.ToString("O"));
    json.WriteString("os", RuntimeInformation.OSDescription);
    json.WriteString("dotnet", RuntimeInformation.FrameworkDescription);
    exitCode = Run(options, json);
    json.WriteEndObject();
}

string report = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
Console.WriteLine(report);
if (options.OutFile is not null)
{
    File.WriteAllText(options.OutFile, report + "\n");
}

return exitCode;

static int Run(CheckOptions options, Utf8JsonWriter json)
{
    string? torchCuda = TorchLocator.Find(options.TorchLib, out IReadOnlyList<string> searched);
    if (torchCuda is null)
    {
        string where = searched.Count == 0 ? "(LD_LIBRARY_PATH is empty)" : string.Join(':', searched);
        return NoCuda(json, $"{TorchLocator.FileName} was not found in: {where}", options);
    }

    try
    {
        // Global, as Python's torch loads it: its CUDA kernels register themselves with ATen when it loads.
        DynamicLinker.OpenOrThrow(torchCuda, DynamicLinker.RtldNow | DynamicLinker.RtldGlobal);
    }
    catch (DllNotFoundException error)
    {
        return NoCuda(json, error.Message, options);
    }

    CudaRuntime runtime;
    try
    {
        runtime = CudaRuntime.Instance;
    }
    catch (DllNotFoundException error)
    {
        return NoCuda(json, error.Message, options);
    }

    var extras = new CudaExtras(runtime);
    (int deviceCount, int status, string message) = extras.DeviceCount();
    if (status != 0 || deviceCount == 0)
    {
        string reason = status != 0 ? $"cudaGetDeviceCount failed with CUDA error {status}: {message}" : "cudaGetDeviceCount found no device";
        return NoCuda(json, reason, options);
    }
    if (options.Device >= deviceCount)
    {
        Console.Error.WriteLine($"gpu-check: --device {options.Device} does not exist; this machine has {deviceCount} CUDA device(s).");
        return 2;
    }

    json.WriteBoolean("cuda_available", true);
    json.WriteNumber("device", options.Device);
    runtime.SetDevice(options.Device);
    var gpu = new GpuContext(runtime, extras, TorchShim.Bind(), options.Device);
    var report = new CheckReport(json);
    report.Run("shim_on_cpu", w => ShimOnCpuCheck.Run(gpu.Torch, w));
    report.Run("libraries", w => LibraryCheck.Run(gpu, torchCuda, deviceCount, w));
    report.Run("stream_selection", w => StreamSelectionCheck.Run(gpu, deviceCount, w));
    report.Run("async_copy", w => AsyncCopyCheck.Run(gpu, w));
    report.Run("overlap", w => OverlapCheck.Run(gpu, w));
    report.Run("ordering_stress", w => OrderingStressCheck.Run(gpu, options.Batches, w));
    report.Run("host_wait", w => HostWaitCheck.Run(gpu, w));
    json.WriteBoolean("all_passed", report.AllPassed);
    return report.AllPassed ? 0 : 1;
}

// Without CUDA there is nothing of the seam to check; where a libtorch_cpu is at hand, the shim bindings still are.
static int NoCuda(Utf8JsonWriter json, string reason, CheckOptions options)
{
    json.WriteBoolean("cuda_available", false);
    json.WriteString("reason", reason);
    Console.Error.WriteLine($"gpu-check: no CUDA here, so no GPU check: {reason}");

    string? torchCpu = TorchLocator.Find(options.TorchLib, TorchLocator.CpuFileName, out _);
    if (torchCpu is null)
    {
        return 0;
    }

    try
    {
        DynamicLinker.OpenOrThrow(torchCpu, DynamicLinker.RtldNow | DynamicLinker.RtldGlobal);
    }
    catch (DllNotFoundException error)
    {
        json.WriteString("shim_on_cpu", $"not run: {error.Message}");
        return 0;
    }
    var report = new CheckReport(json);
    report.Run("shim_on_cpu", w => ShimOnCpuCheck.Run(TorchShim.Bind(), w));
    json.WriteBoolean("all_passed", report.AllPassed);
    return report.AllPassed ? 0 : 1;
}
