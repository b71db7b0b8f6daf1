using System.Globalization;

namespace LowLatencyBatcher.CommandLine;

/// <summary>
/// Reads the value of one flag and checks its rule; a value that breaks the rule throws a
/// <see cref="UsageException"/> that names the flag, the rule and the value given.
/// </summary>
internal static class FlagValues
{
    /// <summary>The value after the flag at <paramref name="index"/>; moves <paramref name="index"/> onto it.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="index">The flag's position.</param>
    /// <returns>The value.</returns>
    public static string Next(string[] args, ref int index)
    {
        string flag = args[index];
        if (index + 1 >= args.Length)
        {
            throw UsageException.For(flag, "needs a value.");
        }

        return args[++index];
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>.</summary>
    /// <param name="flag">The flag.</param>
    /// <param name="value">The text given.</param>
    /// <param name="min">The smallest allowed.</param>
    /// <param name="max">The largest allowed.</param>
    /// <returns>The number.</returns>
    public static int Int(string flag, string value, int min = 1, int max = int.MaxValue) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) && parsed >= min && parsed <= max
            ? parsed
            : throw UsageException.For(flag, $"needs {Range("a whole number", min, max)}, not '{value}'.");

    /// <summary>A number above <paramref name="minExclusive"/> and at most <paramref name="max"/>.</summary>
    /// <param name="flag">The flag.</param>
    /// <param name="value">The text given.</param>
    /// <param name="minExclusive">The allowed values are above this.</param>
    /// <param name="max">The largest allowed.</param>
    /// <returns>The number.</returns>
    public static double Real(string flag, string value, double minExclusive = 0, double max = double.MaxValue) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed)
            && parsed > minExclusive && parsed <= max
            ? parsed
            : throw UsageException.For(flag, max == double.MaxValue
                ? $"needs a number above {minExclusive.ToString(CultureInfo.InvariantCulture)}, not '{value}'."
                : $"needs a number above {minExclusive.ToString(CultureInfo.InvariantCulture)} and at most {max.ToString(CultureInfo.InvariantCulture)}, not '{value}'.");

    /// <summary>A comma-separated list of whole numbers, each from <paramref name="min"/> to <paramref name="max"/>.</summary>
    /// <param name="flag">The flag.</param>
    /// <param name="value">The text given.</param>
    /// <param name="min">The smallest allowed.</param>
    /// <param name="max">The largest allowed.</param>
    /// <param name="ascending">Whether the numbers must be strictly ascending.</param>
    /// <returns>The numbers.</returns>
    public static int[] IntList(string flag, string value, int min = 1, int max = int.MaxValue, bool ascending = false)
    {
        string rule = $"needs a comma-separated list of {Range("whole numbers", min, max)}{(ascending ? ", strictly ascending" : "")}";
        string[] parts = value.Split(',');
        var numbers = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out numbers[i])
                || numbers[i] < min || numbers[i] > max || (ascending && i > 0 && numbers[i] <= numbers[i - 1]))
            {
                throw UsageException.For(flag, $"{rule}, not '{value}'.");
            }
        }

        return numbers;
    }

    /// <summary>One of a fixed set of names (case-insensitive); returns it as listed.</summary>
    /// <param name="flag">The flag.</param>
    /// <param name="value">The text given.</param>
    /// <param name="allowed">The names allowed.</param>
    /// <returns>The name.</returns>
    public static string Choice(string flag, string value, params string[] allowed) =>
        allowed.FirstOrDefault(name => string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
            ?? throw UsageException.For(flag, $"needs one of {string.Join(", ", allowed)}, not '{value}'.");

    /// <summary>An absolute http or https address.</summary>
    /// <param name="flag">The flag.</param>
    /// <param name="value">The text given.</param>
    /// <returns>The address.</returns>
    public static Uri Url(string flag, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out Uri? url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? url
            : throw UsageException.For(flag, $"needs an absolute http:// or https:// address, not '{value}'.");

    private static string Range(string what, int min, int max) => (min, max) switch
    {
        (1, int.MaxValue) => what == "a whole number" ? "a positive whole number" : $"positive {what}",
        (_, int.MaxValue) => $"{what} of at least {min}",
        _ => $"{what} from {min} to {max}",
    };
}
