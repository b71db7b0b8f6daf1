using LowLatencyBatcher.Torch.Native;

namespace LowLatencyBatcher.Torch.Streams.Cuda;

/// <summary>
/// Where cudart may be, best first. The cudart that libtorch_cuda already loaded comes first, whatever its
/// name and version: binding another one beside it (a <c>.so.12</c> next to torch's <c>.so.13</c>, say) would
/// give the seam streams and events that torch's runtime does not know. Then the known layouts, for a process
/// where it is not mapped yet: TorchSharp-cuda's hashed <c>libcudart-&lt;hash&gt;.so.N</c> next to
/// <c>libtorch_cuda.so</c>, pip's CUDA 13 folder <c>nvidia/cu13/lib</c> and CUDA 12 folder
/// <c>nvidia/cuda_runtime/lib</c> beside the <c>torch</c> package; last, the loader's own path.
/// </summary>
internal static class CudaRuntimeLocator
{
    /// <summary>The sonames probed with <c>RTLD_NOLOAD</c> and then on the loader path, newest first.</summary>
    public static readonly string[] Sonames = ["libcudart.so.13", "libcudart.so.12"];

    /// <summary>The candidates for this process, from <c>/proc/self/maps</c>.</summary>
    public static IEnumerable<CudaRuntimeCandidate> Candidates() =>
        Candidates(LoadedLibraries.Find("libcudart"), LoadedLibraries.Find("libtorch_cuda"));

    /// <summary>The candidates given what is mapped.</summary>
    /// <param name="loadedRuntimes">Mapped files whose name starts with <c>libcudart</c>, in map order.</param>
    /// <param name="loadedTorchCuda">Mapped <c>libtorch_cuda</c> files.</param>
    public static IEnumerable<CudaRuntimeCandidate> Candidates(IReadOnlyList<string> loadedRuntimes, IReadOnlyList<string> loadedTorchCuda)
    {
        // A file is offered once; a soname both as a probe of what is loaded and as a name for the loader.
        var seen = new HashSet<(string, bool)>();
        IEnumerable<CudaRuntimeCandidate> Once(IEnumerable<CudaRuntimeCandidate> candidates) =>
            candidates.Where(candidate => seen.Add((candidate.Path, candidate.OnlyIfLoaded)));

        // 1. What the process already has: loading it again by path only bumps its reference count.
        foreach (CudaRuntimeCandidate loaded in Once(loadedRuntimes.Select(path => new CudaRuntimeCandidate(path, false, "loaded"))))
        {
            yield return loaded;
        }

        foreach (CudaRuntimeCandidate byName in Once(Sonames.Select(name => new CudaRuntimeCandidate(name, true, "loaded-by-name"))))
        {
            yield return byName;
        }

        // 2. The known layouts around each libtorch_cuda.
        foreach (string torchCuda in loadedTorchCuda)
        {
            string directory = Path.GetDirectoryName(torchCuda)!;
            string sitePackages = Path.GetFullPath(Path.Combine(directory, "..", ".."));
            foreach (CudaRuntimeCandidate beside in Once(Files(directory, "libcudart*.so*", "beside-libtorch_cuda")))
            {
                yield return beside;
            }

            foreach (CudaRuntimeCandidate cu13 in Once(Files(Path.Combine(sitePackages, "nvidia", "cu13", "lib"), "libcudart.so*", "pip-cu13")))
            {
                yield return cu13;
            }

            foreach (CudaRuntimeCandidate cu12 in Once(Files(Path.Combine(sitePackages, "nvidia", "cuda_runtime", "lib"), "libcudart.so*", "pip-cu12")))
            {
                yield return cu12;
            }
        }

        // 3. The loader path.
        foreach (CudaRuntimeCandidate onPath in Once(Sonames.Append("libcudart.so").Select(name => new CudaRuntimeCandidate(name, false, "loader-path"))))
        {
            yield return onPath;
        }
    }

    /// <summary>Files matching <paramref name="pattern"/> in <paramref name="folder"/>, versioned sonames before bare names.</summary>
    private static IEnumerable<CudaRuntimeCandidate> Files(string folder, string pattern, string source)
    {
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.EnumerateFiles(folder, pattern)
            .OrderBy(file => Path.GetFileName(file).EndsWith(".so", StringComparison.Ordinal) ? 1 : 0)
            .ThenBy(file => file, StringComparer.Ordinal)
            .Select(file => new CudaRuntimeCandidate(file, false, source))
            .ToList();
    }
}
