using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// Checks the <see cref="BatcherOptions"/> of one registered batcher by the core's own rules: it builds the core
/// options and a batcher from them (which does the checking, allocates little and starts nothing), and turns the
/// exception that names the broken rule into a validation failure that also names the batcher.
/// </summary>
internal sealed class BatcherOptionsValidator<TRecord, TResult>(BatcherRegistration registration) : IValidateOptions<BatcherOptions>
{
    private static readonly ProcessFn<TRecord, TResult> NoProcess =
        (_, _) => throw new InvalidOperationException("Options validation never runs a batch.");

    public ValidateOptionsResult Validate(string? name, BatcherOptions options)
    {
        if (name != registration.Name)
        {
            return ValidateOptionsResult.Skip;
        }

        try
        {
            // Not started and never submitted to: nothing to stop or dispose.
            _ = registration.IsTokenBatcher
                ? new TokenBatcher<TRecord, TResult>(NoProcess, options.ToTokenBatcherOptions<TRecord>())
                : new DynamicBatcher<TRecord, TResult>(NoProcess, options.ToDynamicBatcherOptions<TRecord>());
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException error)
        {
            return ValidateOptionsResult.Fail($"Batcher '{registration.Name}': {OneLine(error.Message)}");
        }
    }

    // ArgumentOutOfRangeException appends "(Parameter 'X')" and "Actual value was N." on their own lines; keep them on one.
    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
