using System.Text;
using LowLatencyBatcher.Torch.Native;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Tests;

public class CompatLayerTests
{
    [Fact]
    public void TorchSharpRunsARealOperationInThisProcess()
    {
        TorchNative.EnsureLoaded();

        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = torch.ones(3, 1);
        using var product = a.matmul(b);

        Assert.Equal([3f, 12f], product.data<float>().ToArray());
        // The native bridge in use is the one in the application's own folder.
        Assert.Contains(LoadedLibraries.Find("libLibTorchSharp"), path => path.StartsWith(AppContext.BaseDirectory, StringComparison.Ordinal));
    }

    [Fact]
    public void TheShimIsLoadedExactlyWhereTheHostNeedsIt()
    {
        TorchNative.EnsureLoaded();
        TorchNative.EnsureLoaded();

        string libstdcxx = LoadedLibraries.Find("libstdc++.so.6").Single();
        bool hostHasVersion = Contains(File.ReadAllBytes(libstdcxx), "GLIBCXX_3.4.32\0");
        string shim = Path.Combine(AppContext.BaseDirectory, TorchNative.CompatLibraryFileName);

        if (hostHasVersion)
        {
            Assert.False(File.Exists(shim));
            Assert.Null(TorchNative.CompatLibraryPath);
        }
        else
        {
            Assert.Equal(shim, TorchNative.CompatLibraryPath);
            Assert.Contains(shim, LoadedLibraries.Find(TorchNative.CompatLibraryFileName));
        }
    }

    private static bool Contains(byte[] haystack, string text) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;
}
