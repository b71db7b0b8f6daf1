using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Finds the libstdc++ that processes on this host load and tells whether it exports a given symbol version.
/// </summary>
/// <remarks>
/// The build runs inside the dotnet host, which links libstdc++ itself, so the copy mapped into this very
/// process is the one the application will get from the dynamic loader. The well-known paths are only a
/// fallback for an unusual host.
/// </remarks>
public class ProbeLibstdcxx : Task
{
    private static readonly string[] FallbackPaths =
    {
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    /// <summary>The version name to look for, such as GLIBCXX_3.4.32.</summary>
    [Required]
    public string Version { get; set; } = "";

    /// <summary>The libstdc++ that was examined (empty when none was found).</summary>
    [Output]
    public string LibraryPath { get; set; } = "";

    /// <summary>True when the library defines <see cref="Version"/>.</summary>
    [Output]
    public bool HasVersion { get; set; }

    public override bool Execute()
    {
        LibraryPath = FindMapped() ?? Array.Find(FallbackPaths, File.Exists) ?? "";
        if (LibraryPath.Length == 0)
        {
            Log.LogMessage(MessageImportance.High, "No libstdc++.so.6 found on this host; assuming it needs no compatibility shim.");
            HasVersion = true;
            return true;
        }

        // Version names live NUL-terminated in .dynstr; a byte search is exact enough and needs no ELF parsing.
        byte[] needle = Encoding.ASCII.GetBytes(Version + "\0");
        HasVersion = IndexOf(File.ReadAllBytes(LibraryPath), needle) >= 0;
        Log.LogMessage(MessageImportance.Normal, $"{LibraryPath}: {Version} {(HasVersion ? "present" : "absent")}");
        return true;
    }

    private static string FindMapped()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
            return null;
        foreach (string line in File.ReadLines(maps))
        {
            int slash = line.IndexOf('/');
            if (slash < 0)
                continue;
            string path = line.Substring(slash).Trim();
            if (Path.GetFileName(path).StartsWith("libstdc++.so.6", StringComparison.Ordinal))
                return path;
        }
        return null;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i <= haystack.Length - needle.Length; i++)
        {
            i = Array.IndexOf(haystack, needle[0], i);
            if (i < 0 || i > haystack.Length - needle.Length)
                return -1;
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return i;
        }
        return -1;
    }
}
