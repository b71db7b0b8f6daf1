using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Primitives;

/// <summary>
/// A 64-bit cursor alone on its own cache lines. 128 bytes on each side covers the 64-byte lines of x64 and
/// the 128-byte lines (and adjacent-line prefetch) of arm64, so two cursors written by different threads never
/// share a line (false sharing).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2 * PaddingBytes + sizeof(long))]
internal struct PaddedCursor
{
    private const int PaddingBytes = 128;

    /// <summary>The cursor value.</summary>
    [FieldOffset(PaddingBytes)]
    public long Value;
}
