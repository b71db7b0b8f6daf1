using System.Text.RegularExpressions;

namespace LowLatencyBatcher.CommandLine;

/// <summary>
/// The flags that set a library option, by the option's name: a library exception that names an option (its
/// <see cref="ArgumentException.ParamName"/>) becomes a <see cref="UsageException"/> in the command line's words,
/// so a rule the library checks (<c>MinBatchSize must not exceed MaxBatchSize</c>) reads as
/// <c>--min-batch-size must not exceed --max-batch-size</c>.
/// </summary>
/// <param name="flagsByOption">The flag of each option name.</param>
internal sealed partial class OptionFlags(IReadOnlyDictionary<string, string> flagsByOption)
{
    /// <summary>Runs <paramref name="create"/>; an <see cref="ArgumentException"/> about a mapped option becomes a usage error.</summary>
    /// <typeparam name="T">What is created.</typeparam>
    /// <param name="create">Creates what checks the options (a batcher, a runner).</param>
    /// <returns>What <paramref name="create"/> returned.</returns>
    public T Check<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentException error) when (error.ParamName is { } option && flagsByOption.ContainsKey(option))
        {
            throw Translate(error);
        }
    }

    /// <summary>The library's message in the command line's words: its first line, option names replaced by flags.</summary>
    /// <param name="error">An exception that names a mapped option.</param>
    /// <returns>The usage error.</returns>
    public UsageException Translate(ArgumentException error)
    {
        string message = CommandLineTool.WithoutParameterName(CommandLineTool.OneLine(error.Message));
        message = Word().Replace(message, match => flagsByOption.TryGetValue(match.Value, out string? flag) ? flag : match.Value);
        if (error.ParamName is { } option && flagsByOption.TryGetValue(option, out string? own) && !message.Contains(own, StringComparison.Ordinal))
        {
            message = $"{own}: {message}";
        }

        return new UsageException(message);
    }

    [GeneratedRegex(@"\b[A-Z][A-Za-z]+\b")]
    private static partial Regex Word();
}
