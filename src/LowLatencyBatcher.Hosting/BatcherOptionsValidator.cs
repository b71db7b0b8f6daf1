using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// Checks the <see cref="BatcherOptions"/> of one registered batcher by the core's own rules: it builds the core
/// options and a batcher from them (which does the checking, allocates little and starts nothing), and turns the
/// exception that names the broken rule into a validation failure that also names the batcher. It runs when the host
/// starts and whenever the options are read afresh after a change, so a running batcher never takes values it
/// would have refused at creation.
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
            return ValidateOptionsResult.Fail($"Batcher '{registration.Name}': {BatcherLog.OneLine(error.Message)}");
        }
    }
}
