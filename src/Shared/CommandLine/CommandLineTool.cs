using System.Text.RegularExpressions;

namespace LowLatencyBatcher.CommandLine;

/// <summary>
/// The one place where a tool's command-line errors end: a <see cref="UsageException"/> thrown anywhere in the tool's
/// main function (while parsing, or later when a value turns out not to work on this machine) is printed as one line
/// on standard error and the process exits with <see cref="UsageExitCode"/>. Any other exception is a fault of the
/// tool and keeps its stack trace.
/// </summary>
internal static partial class CommandLineTool
{
    /// <summary>The exit code of a command-line error.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Runs a tool's main function and turns its command-line errors into one line and exit code 2.</summary>
    /// <param name="main">The tool's work; returns the exit code.</param>
    /// <param name="describe">
    /// Optionally turns other exceptions that are the user's doing (a port in use, a bad configuration value) into a
    /// <see cref="UsageException"/>; returns null for the rest.
    /// </param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(Func<Task<int>> main, Func<Exception, UsageException?>? describe = null)
    {
        try
        {
            return await main();
        }
        catch (UsageException error)
        {
            return Fail(error);
        }
        catch (Exception error) when (describe?.Invoke(error) is { } usage)
        {
            return Fail(usage);
        }
    }

    private static int Fail(UsageException error)
    {
        Console.Out.Flush();
        Console.Error.WriteLine(OneLine(error.Message));
        return UsageExitCode;
    }

    /// <summary>The first line of <paramref name="text"/>, trimmed.</summary>
    /// <param name="text">A message.</param>
    /// <returns>Its first line.</returns>
    public static string OneLine(string text)
    {
        int end = text.AsSpan().IndexOfAny('\r', '\n');
        return (end < 0 ? text : text[..end]).Trim();
    }

    /// <summary>An argument exception's message without the <c> (Parameter 'Name')</c> that repeats the name it starts with.</summary>
    /// <param name="message">The message.</param>
    /// <returns>The message without it.</returns>
    public static string WithoutParameterName(string message) => ParameterName().Replace(message, "");

    [GeneratedRegex(@" \(Parameter '[^']*'\)")]
    private static partial Regex ParameterName();
}
