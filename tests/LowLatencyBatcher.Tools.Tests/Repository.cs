using System.Reflection;

namespace LowLatencyBatcher.Tools.Tests;

/// <summary>Paths in the repository these tests were built from.</summary>
internal static class Repository
{
    /// <summary>The repository's root: the folder that holds LowLatencyBatcher.sln, above the test's output.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path under the root, given with forward slashes.</summary>
    public static string PathOf(string relative) => Path.Combine([Root, .. relative.Split('/')]);

    /// <summary>The built entry assembly of a tool project, in the configuration these tests were built in.</summary>
    /// <param name="projectDirectory">The project's folder, relative to the root (e.g. <c>src/LowLatencyBatcher.Demo</c>).</param>
    public static string ToolAssembly(string projectDirectory)
    {
        string name = Path.GetFileName(projectDirectory);
        string path = Path.Combine(PathOf(projectDirectory), "bin", Metadata("Configuration"), Metadata("TargetFramework"), name + ".dll");
        Assert.True(File.Exists(path), $"{path} is missing: the test project builds it first, so the build failed or put it elsewhere.");
        return path;
    }

    private static string Metadata(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LowLatencyBatcher.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No LowLatencyBatcher.sln above {AppContext.BaseDirectory}.");
    }
}
