using System.Text.RegularExpressions;
using LowLatencyBatcher.CommandLine;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Server;

/// <summary>
/// Says in one line why the server could not start when the cause is the user's settings: a configuration key
/// that breaks its rule (named as <c>Section:Key</c>), a value that does not convert, or an address in use.
/// </summary>
public static partial class StartupErrors
{
    /// <summary>One line naming the setting and the rule, or null when <paramref name="error"/> is not such a cause.</summary>
    /// <param name="error">What the host's start (or the application's build) threw.</param>
    /// <returns>The line, or null.</returns>
    public static string? Describe(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        switch (error)
        {
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                return Describe(aggregate.InnerExceptions[0]);
            case OptionsValidationException validation:
                return string.Join("; ", validation.Failures.Select(failure =>
                    CommandLineTool.WithoutParameterName(CommandLineTool.OneLine(BatcherFailure().Replace(failure, $"{EmbeddingsServer.BatcherSection}:")))));
            case IOException { InnerException: AddressInUseException } bind:
                return $"Urls (--urls): {CommandLineTool.OneLine(bind.Message)} Another process listens there: stop it, or pass another port, e.g. --urls http://127.0.0.1:5081.";
            case InvalidOperationException conversion when ConversionFailure().Match(conversion.Message) is { Success: true } match:
                return $"{match.Groups["key"].Value} needs a value of type {match.Groups["type"].Value.Replace("System.", "", StringComparison.Ordinal)}, not '{match.Groups["value"].Value}'.";
            default:
                return null;
        }
    }

    /// <summary>The hosting layer's prefix of a batcher's failure, <c>Batcher 'embeddings': </c>, before the option's name.</summary>
    [GeneratedRegex("^Batcher '" + EmbeddingsServer.BatcherName + "': ")]
    private static partial Regex BatcherFailure();

    /// <summary>The configuration binder's message for a value that does not convert.</summary>
    [GeneratedRegex("^Failed to convert configuration value '(?<value>[^']*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();
}
