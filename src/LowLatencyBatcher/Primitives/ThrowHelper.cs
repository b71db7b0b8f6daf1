using System.Diagnostics.CodeAnalysis;

namespace LowLatencyBatcher.Primitives;

/// <summary>
/// The throws of hot methods, kept out of them: a method that throws is never inlined and carries the exception's
/// construction in its body, so the submit and view paths call these instead.
/// </summary>
internal static class ThrowHelper
{
    /// <summary>Throws <see cref="ArgumentNullException"/> for the argument named <paramref name="name"/>.</summary>
    [DoesNotReturn]
    public static void ArgumentNull(string name) => throw new ArgumentNullException(name);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for <paramref name="name"/> with <paramref name="message"/>.</summary>
    [DoesNotReturn]
    public static void ArgumentOutOfRange(string name, object? value, string message) =>
        throw new ArgumentOutOfRangeException(name, value, message);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for an index outside <c>[0, count)</c>.</summary>
    [DoesNotReturn]
    public static T IndexOutOfRange<T>(int index, int count) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"The index must be between 0 and {count - 1}.");

    /// <summary>Throws <paramref name="exception"/> (built off the hot path by the caller's cold helper).</summary>
    [DoesNotReturn]
    public static void Throw(Exception exception) => throw exception;
}
