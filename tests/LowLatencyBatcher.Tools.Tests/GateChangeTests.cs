using LowLatencyBatcher.Harness;

namespace LowLatencyBatcher.Tools.Tests;

/// <summary>The perf gate's advisory "change" column: relative to the base as printed, n/a where there is none.</summary>
public sealed class GateChangeTests
{
    [Theory]
    [InlineData(0.0004, 0.0003, "F3", "n/a")]     // both print as 0.000: no base to compare with
    [InlineData(null, 5.0, "F1", "n/a")]           // no stored figure
    [InlineData(0.0, 1.0, "F2", "n/a")]
    [InlineData(double.NaN, 1.0, "F2", "n/a")]
    [InlineData(100.0, 73.0, "N0", "-27%")]
    [InlineData(2.0, 3.0, "F2", "+50%")]
    [InlineData(1.234, 1.2344, "F3", "0%")]
    public void Change_is_relative_to_the_printed_base(double? was, double now, string format, string expected) =>
        Assert.Equal(expected, Gate.Change(was, now, format));
}
