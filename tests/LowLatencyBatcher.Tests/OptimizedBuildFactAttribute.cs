using System.Diagnostics;
using System.Reflection;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// A fact about allocation, which only an optimized build of the library keeps: a Debug build allocates where an
/// optimized one does not (its async state machines are classes, and the JIT, told not to optimize, keeps no object on
/// the stack). Skipped, saying so, in Debug; the test command (<c>dotnet test -c Release</c>) runs it.
/// </summary>
public sealed class OptimizedBuildFactAttribute : FactAttribute
{
    /// <summary>Whether the library under test was compiled without optimizations.</summary>
    public static bool LibraryIsDebugBuild { get; } =
        typeof(DynamicBatcher<,>).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;

    /// <summary>Skips the fact on a Debug build of the library.</summary>
    public OptimizedBuildFactAttribute()
    {
        if (LibraryIsDebugBuild)
        {
            Skip = "allocation is checked on an optimized build only (dotnet test -c Release): a Debug build allocates where an optimized one does not";
        }
    }
}
