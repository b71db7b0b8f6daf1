using System.Reflection;
using System.Text.RegularExpressions;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;
using TorchSharp;

namespace LowLatencyBatcher.Torch;

/// <summary>Picks the device to run on and the stream backend that goes with it.</summary>
public static partial class TorchDevices
{
    /// <summary>
    /// Resolves a device name: <c>auto</c> (or <see langword="null"/>) picks CUDA device 0 when
    /// <c>torch.cuda.is_available()</c>, else the CPU; <c>cpu</c>, <c>cuda</c> and <c>cuda:N</c> name one.
    /// </summary>
    /// <param name="name">The device name.</param>
    /// <exception cref="ArgumentException">The name is not one of the forms above.</exception>
    /// <exception cref="InvalidOperationException">A CUDA device was asked for and CUDA is not available.</exception>
    public static torch.Device Resolve(string? name = null)
    {
        TorchNative.EnsureLoaded();
        string spec = (name ?? "auto").Trim().ToLowerInvariant();
        if (spec == "auto")
        {
            return torch.cuda.is_available() ? torch.device(DeviceType.CUDA, 0) : torch.CPU;
        }

        if (spec == "cpu")
        {
            return torch.CPU;
        }

        if (spec == "cuda" || spec.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = spec == "cuda" ? 0 : int.TryParse(spec.AsSpan(5), out int parsed) && parsed >= 0
                ? parsed
                : throw new ArgumentException($"'{name}' is not a CUDA device name (cuda or cuda:N).", nameof(name));
            if (!torch.cuda.is_available())
            {
                throw new InvalidOperationException($"Device '{name}' was asked for, but CUDA is not available in this process: {WhyNoCuda()}");
            }

            return torch.device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Unknown device '{name}': use auto, cpu, cuda or cuda:N.", nameof(name));
    }

    /// <summary>
    /// Whether <paramref name="name"/> is one of the forms <see cref="Resolve"/> takes (<c>auto</c>, <c>cpu</c>,
    /// <c>cuda</c>, <c>cuda:N</c>, in any case); whether that device exists is for <see cref="Resolve"/> to say.
    /// </summary>
    /// <param name="name">The device name.</param>
    /// <returns>True for a well-formed name. Loads nothing.</returns>
    public static bool IsDeviceName(string? name) => name is not null && DeviceName().IsMatch(name.Trim());

    [GeneratedRegex("^(auto|cpu|cuda|cuda:[0-9]+)$", RegexOptions.IgnoreCase)]
    private static partial Regex DeviceName();

    /// <summary>
    /// The libtorch this build ships: <c>cpu</c> (the default, <c>libtorch-cpu-linux-x64</c>) or <c>cuda</c>
    /// (built with <c>-p:TorchBackend=cuda</c>, <c>TorchSharp-cuda-linux</c>).
    /// </summary>
    public static string BuildBackend { get; } =
        typeof(TorchDevices).Assembly.GetCustomAttributes(typeof(AssemblyMetadataAttribute), inherit: false)
            .Cast<AssemblyMetadataAttribute>()
            .FirstOrDefault(attribute => attribute.Key == "TorchBackend")?.Value ?? "cpu";

    private static string WhyNoCuda() => BuildBackend == "cuda"
        ? "this build ships the CUDA libtorch, but no CUDA device or driver was found."
        : "this build ships the CPU-only libtorch; build with -p:TorchBackend=cuda on a host with an NVIDIA driver to use CUDA.";

    /// <summary>Creates the stream backend for <paramref name="device"/>.</summary>
    /// <param name="device">A CPU or CUDA device.</param>
    /// <exception cref="NotSupportedException">The device type has no stream backend.</exception>
    public static IStreamBackend CreateStreamBackend(torch.Device device) => device.type switch
    {
        DeviceType.CPU => new CpuStreamBackend(),
        DeviceType.CUDA => new CudaStreamBackend(device.index < 0 ? 0 : device.index),
        _ => throw new NotSupportedException($"No stream backend for device type {device.type}."),
    };
}
