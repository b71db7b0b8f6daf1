namespace LowLatencyBatcher.Nats;

/// <summary>
/// Where workers and clients meet: the NATS server and the names of the subjects and streams. A worker and the
/// clients that use it must agree on <see cref="SubjectPrefix"/> and <see cref="Service"/>.
/// </summary>
public abstract class NatsBatcherOptions
{
    /// <summary>
    /// The NATS server(s): <c>nats://host:port</c> (or <c>tls://</c>, <c>ws://</c>, <c>wss://</c>); several
    /// comma-separated for a cluster. Default <c>nats://127.0.0.1:4222</c>.
    /// </summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The first token of every subject. Default <c>llb</c>.</summary>
    public string SubjectPrefix { get; set; } = "llb";

    /// <summary>
    /// The service's name: workers of one service share its online subject, its work queue and its results. Letters,
    /// digits, <c>-</c> and <c>_</c>. Default <c>batcher</c>.
    /// </summary>
    public string Service { get; set; } = "batcher";

    /// <summary>
    /// How long results (and dead letters) stay in the results stream when nobody collects them. Default 1 hour.
    /// </summary>
    public TimeSpan ResultRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The rule breaks of these options, one message each naming the option; empty when valid.</summary>
    /// <returns>The messages.</returns>
    public virtual IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Url))
        {
            errors.Add("Url is required: a NATS server such as nats://127.0.0.1:4222.");
        }
        else
        {
            foreach (string part in Url.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls" or "ws" or "wss"))
                {
                    errors.Add($"Url '{part}' must be an absolute nats://, tls://, ws:// or wss:// address such as nats://127.0.0.1:4222.");
                }
            }
        }

        CheckToken(errors, nameof(SubjectPrefix), SubjectPrefix);
        CheckToken(errors, nameof(Service), Service);
        if (ResultRetention < TimeSpan.FromSeconds(10) || ResultRetention > TimeSpan.FromDays(30))
        {
            errors.Add($"ResultRetention must be between 10 seconds and 30 days; it is {ResultRetention}.");
        }

        return errors;
    }

    /// <summary>Throws when the options break a rule.</summary>
    /// <exception cref="ArgumentException">A rule is broken; the message names every broken one.</exception>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException($"{GetType().Name}: {string.Join(" ", errors)}");
        }
    }

    private protected static void CheckRange(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{name} must be between {min} and {max}; it is {value}.");
        }
    }

    private protected static void CheckRange(List<string> errors, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{name} must be between {min} and {max}; it is {value}.");
        }
    }

    private static void CheckToken(List<string> errors, string name, string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 64
            || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            errors.Add($"{name} must be 1 to 64 letters, digits, '-' or '_' (it names NATS subjects and streams); it is '{value}'.");
        }
    }
}
