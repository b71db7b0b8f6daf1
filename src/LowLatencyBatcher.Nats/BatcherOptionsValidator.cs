using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Nats;

/// <summary>Checks worker and client options when the host starts, with the same messages as the constructors.</summary>
/// <typeparam name="TOptions">The options type.</typeparam>
internal sealed class BatcherOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : NatsBatcherOptions
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(errors.Select(error => $"{typeof(TOptions).Name}: {error}"));
    }
}
