namespace LowLatencyBatcher.Torch.Native;

/// <summary>The shared objects mapped into this process, read from <c>/proc/self/maps</c>.</summary>
internal static class LoadedLibraries
{
    /// <summary>Full paths of the mapped files whose name starts with <paramref name="fileNamePrefix"/>.</summary>
    public static IReadOnlyList<string> Find(string fileNamePrefix)
    {
        const string maps = "/proc/self/maps";
        var found = new List<string>();
        if (!File.Exists(maps))
        {
            return found;
        }

        foreach (string line in File.ReadLines(maps))
        {
            int slash = line.IndexOf('/');
            if (slash < 0)
            {
                continue;
            }

            string path = line[slash..].Trim();
            if (Path.GetFileName(path).StartsWith(fileNamePrefix, StringComparison.Ordinal) && !found.Contains(path))
            {
                found.Add(path);
            }
        }
        return found;
    }
}
