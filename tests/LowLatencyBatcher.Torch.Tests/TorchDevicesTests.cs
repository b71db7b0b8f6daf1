using TorchSharp;

namespace LowLatencyBatcher.Torch.Tests;

public class TorchDevicesTests
{
    [Fact]
    public void ResolvesExplicitAndAutomaticDevices()
    {
        Assert.Equal(DeviceType.CPU, TorchDevices.Resolve("cpu").type);
        DeviceType expected = torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU;
        Assert.Equal(expected, TorchDevices.Resolve("auto").type);
        Assert.Equal(expected, TorchDevices.Resolve(null).type);
    }

    [Fact]
    public void RejectsUnknownNamesAndUnavailableCuda()
    {
        Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("tpu"));
        Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("cuda:x"));
        if (!torch.cuda.is_available())
        {
            Assert.Throws<InvalidOperationException>(() => TorchDevices.Resolve("cuda:0"));
        }
    }

    [Fact]
    public void PicksTheCpuStreamBackendForTheCpu()
    {
        using var backend = TorchDevices.CreateStreamBackend(torch.CPU);
        Assert.IsType<Streams.CpuStreamBackend>(backend);
    }
}
