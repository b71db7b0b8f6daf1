namespace LowLatencyBatcher.CommandLine;

/// <summary>
/// A command-line argument (a flag, or a configuration key given on the command line) that breaks a rule. The
/// message is one line that names the argument and the rule; <see cref="CommandLineTool.RunAsync"/> prints it and
/// ends the process with exit code 2, without a stack trace.
/// </summary>
internal sealed class UsageException : Exception
{
    /// <summary>Creates the error from its whole one-line message, which must name the argument.</summary>
    /// <param name="message">The message, for example <c>--seed needs a whole number, not 'x'.</c></param>
    public UsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error of one argument and the rule it breaks.</summary>
    /// <param name="argument">The flag or key, for example <c>--seed</c> or <c>Embeddings:Device</c>.</param>
    /// <param name="rule">The rule, phrased to follow the argument: <c>needs a whole number, not 'x'.</c></param>
    /// <returns>The error.</returns>
    public static UsageException For(string argument, string rule) => new($"{argument} {rule}");
}
