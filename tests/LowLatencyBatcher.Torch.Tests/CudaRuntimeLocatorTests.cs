using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;

namespace LowLatencyBatcher.Torch.Tests;

/// <summary>
/// Where the CUDA seam looks for cudart, checked with fake library folders laid out as pip's cu12/cu13 wheels
/// and TorchSharp-cuda's package lay them out (the files are empty: only their names and places matter here).
/// </summary>
public sealed class CudaRuntimeLocatorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cudart-layout-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Touch(params string[] parts)
    {
        string path = Path.GetFullPath(Path.Combine([_root, .. parts]));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    [Fact]
    public void TheCudartTorchLoadedComesFirstEvenWithAnotherVersionInstalledBesideIt()
    {
        string torchCuda = Touch("site-packages", "torch", "lib", "libtorch_cuda.so");
        string cu13 = Touch("site-packages", "nvidia", "cu13", "lib", "libcudart.so.13");
        string cu12 = Touch("site-packages", "nvidia", "cuda_runtime", "lib", "libcudart.so.12");

        List<CudaRuntimeCandidate> candidates = CudaRuntimeLocator.Candidates([cu13], [torchCuda]).ToList();

        Assert.Equal(new CudaRuntimeCandidate(cu13, false, "loaded"), candidates[0]);
        // Then the sonames, taken only if already loaded; the cu13 file is not offered twice.
        Assert.Equal(["libcudart.so.13", "libcudart.so.12"], candidates.Skip(1).Take(2).Select(c => c.Path));
        Assert.All(candidates.Skip(1).Take(2), c => Assert.True(c.OnlyIfLoaded));
        Assert.Single(candidates, c => c.Path == cu13);
        Assert.Equal("pip-cu12", candidates[3].Source);
        Assert.Equal(cu12, candidates[3].Path);
    }

    [Fact]
    public void WithNothingLoadedTheCu13WheelFolderComesBeforeTheCu12OneAndBothBeforeTheLoaderPath()
    {
        string torchCuda = Touch("site-packages", "torch", "lib", "libtorch_cuda.so");
        string cu12 = Touch("site-packages", "nvidia", "cuda_runtime", "lib", "libcudart.so.12");
        string cu13Bare = Touch("site-packages", "nvidia", "cu13", "lib", "libcudart.so");
        string cu13 = Touch("site-packages", "nvidia", "cu13", "lib", "libcudart.so.13");

        List<CudaRuntimeCandidate> files = CudaRuntimeLocator.Candidates([], [torchCuda]).Where(c => !c.OnlyIfLoaded).ToList();

        Assert.Equal([cu13, cu13Bare, cu12], files.Take(3).Select(c => c.Path));
        Assert.Equal(["pip-cu13", "pip-cu13", "pip-cu12"], files.Take(3).Select(c => c.Source));
        Assert.Equal(["libcudart.so.13", "libcudart.so.12", "libcudart.so"], files.Skip(3).Select(c => c.Path));
        Assert.All(files.Skip(3), c => Assert.Equal("loader-path", c.Source));
    }

    [Fact]
    public void TorchSharpsHashedCopyNextToLibtorchCudaIsTheFirstFileTried()
    {
        string torchCuda = Touch("runtimes", "linux-x64", "native", "libtorch_cuda.so");
        string hashed = Touch("runtimes", "linux-x64", "native", "libcudart-9a8b7c6d.so.12");
        Touch("runtimes", "linux-x64", "native", "libcublas-1a2b3c4d.so.12");

        List<CudaRuntimeCandidate> candidates = CudaRuntimeLocator.Candidates([], [torchCuda]).ToList();

        CudaRuntimeCandidate first = Assert.Single(candidates, c => c.Source == "beside-libtorch_cuda");
        Assert.Equal(hashed, first.Path);
        Assert.True(candidates.IndexOf(first) < candidates.FindIndex(c => c.Source == "loader-path"));
        Assert.DoesNotContain(candidates, c => c.Path.Contains("cublas", StringComparison.Ordinal));
    }

    [Fact]
    public void WithoutLibtorchCudaOnlyLoadedLibrariesAndTheLoaderPathAreTried()
    {
        List<CudaRuntimeCandidate> candidates = CudaRuntimeLocator.Candidates([], []).ToList();

        Assert.Equal(["loaded-by-name", "loaded-by-name", "loader-path", "loader-path", "loader-path"], candidates.Select(c => c.Source));
    }

    [Fact]
    public void EventsAreTimingFreeAndOnlyBlockingEventsSleep()
    {
        Assert.Equal(CudaRuntime.EventDisableTiming, CudaEvent.FlagsFor(DeviceEventWait.Spin));
        Assert.Equal(CudaRuntime.EventDisableTiming | CudaRuntime.EventBlockingSync, CudaEvent.FlagsFor(DeviceEventWait.Block));
    }
}
