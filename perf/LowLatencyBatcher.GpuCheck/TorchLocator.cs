namespace LowLatencyBatcher.GpuCheck;

/// <summary>Finds libtorch's libraries: in the folder given, else on <c>LD_LIBRARY_PATH</c>.</summary>
internal static class TorchLocator
{
    public const string FileName = "libtorch_cuda.so";

    public const string CpuFileName = "libtorch_cpu.so";

    /// <summary>The path of libtorch_cuda, or <see langword="null"/> with the folders that were searched.</summary>
    public static string? Find(string? torchLib, out IReadOnlyList<string> searched) => Find(torchLib, FileName, out searched);

    /// <summary>The path of <paramref name="fileName"/>, or <see langword="null"/> with the folders that were searched.</summary>
    public static string? Find(string? torchLib, string fileName, out IReadOnlyList<string> searched)
    {
        var folders = new List<string>();
        if (torchLib is not null)
        {
            folders.Add(torchLib);
        }
        else
        {
            folders.AddRange((Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        }

        searched = folders;
        return folders.Select(folder => Path.Combine(folder, fileName)).FirstOrDefault(File.Exists);
    }
}
