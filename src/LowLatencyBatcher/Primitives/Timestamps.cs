namespace LowLatencyBatcher.Primitives;

/// <summary>Conversions between <see cref="TimeSpan"/> and the ticks of a <see cref="TimeProvider"/>'s timestamps.</summary>
internal static class Timestamps
{
    /// <summary>The arrival of a record that was not stamped at submit (nothing needed its own submit time).</summary>
    public const long NotStamped = long.MinValue;

    /// <summary>
    /// <paramref name="span"/> in ticks of <paramref name="frequency"/> per second, rounded up, at least 1. Integer
    /// arithmetic: a timeout is never shorter than asked (floating point would make 50 ms one tick longer or shorter
    /// depending on the frequency).
    /// </summary>
    public static long ToTicks(TimeSpan span, long frequency)
    {
        Int128 scaled = (Int128)span.Ticks * frequency;
        return Math.Max(1, (long)((scaled + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond));
    }
}
