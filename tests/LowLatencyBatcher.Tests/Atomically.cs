using System.Numerics;

namespace LowLatencyBatcher.Tests;

/// <summary>Atomic helpers the concurrency tests share (the reliability suite links this file too).</summary>
internal static class Atomically
{
    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if that is larger, atomically.</summary>
    /// <typeparam name="T">A primitive integer type (<see cref="int"/>, <see cref="long"/>).</typeparam>
    public static void Max<T>(ref T target, T value)
        where T : struct, IComparisonOperators<T, T, bool>
    {
        T seen = Interlocked.CompareExchange(ref target, default, default); // an atomic read: the field is only ever raised
        while (value > seen)
        {
            T previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
