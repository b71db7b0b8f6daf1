using System.Text.RegularExpressions;

namespace LowLatencyBatcher.Tools.Tests;

/// <summary>
/// README's C# blocks are copies of files under samples/, which CI builds and runs: each block is marked with
/// <c>&lt;!-- sample: samples/Name/File.cs --&gt;</c> on the line above, and must equal that file.
/// </summary>
public sealed partial class ReadmeSamplesTests
{
    private static readonly string Readme = File.ReadAllText(Repository.PathOf("README.md")).ReplaceLineEndings("\n");

    [Fact]
    public void Every_marked_block_equals_its_sample_file()
    {
        var blocks = MarkedBlock().Matches(Readme);
        Assert.NotEmpty(blocks);
        foreach (Match block in blocks)
        {
            string source = block.Groups["path"].Value;
            Assert.StartsWith("samples/", source, StringComparison.Ordinal);
            string path = Repository.PathOf(source);
            Assert.True(File.Exists(path), $"README marks a block as {source}, which does not exist.");
            string file = File.ReadAllText(path).ReplaceLineEndings("\n").TrimEnd('\n');
            string code = block.Groups["code"].Value.TrimEnd('\n');
            Assert.True(file == code, $"README's block from {source} differs from the file: copy {source} into README.md again.\n{FirstDifference(code, file)}");
        }
    }

    [Fact]
    public void Every_csharp_block_comes_from_a_sample()
    {
        int csharp = AnyCsharpBlock().Count(Readme);
        int marked = MarkedBlock().Matches(Readme).Count(m => m.Groups["lang"].Value == "csharp");
        Assert.True(csharp == marked, $"README has {csharp} C# blocks but only {marked} are marked with the sample they come from.");
    }

    [Fact]
    public void The_quick_start_sample_is_in_the_readme_whole()
    {
        // The quick start is two files: pasted into a new console project, they build and run as they are.
        var sources = MarkedBlock().Matches(Readme).Select(m => m.Groups["path"].Value).ToHashSet();
        foreach (string file in Directory.GetFiles(Repository.PathOf("samples/QuickStart"), "*.cs"))
        {
            Assert.Contains($"samples/QuickStart/{Path.GetFileName(file)}", sources);
        }
    }

    private static string FirstDifference(string readme, string file)
    {
        string[] a = readme.Split('\n'), b = file.Split('\n');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            string left = i < a.Length ? a[i] : "(end)", right = i < b.Length ? b[i] : "(end)";
            if (left != right)
            {
                return $"line {i + 1}:\n  README: {left}\n  sample: {right}";
            }
        }

        return "";
    }

    [GeneratedRegex(@"^<!-- sample: (?<path>\S+) -->\n```(?<lang>\w+)\n(?<code>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex MarkedBlock();

    [GeneratedRegex(@"^```csharp$", RegexOptions.Multiline)]
    private static partial Regex AnyCsharpBlock();
}
