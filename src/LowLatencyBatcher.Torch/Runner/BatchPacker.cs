namespace LowLatencyBatcher.Torch.Runner;

/// <summary>
/// Lays a batch out in one flat <c>int64</c> buffer so that a single host-to-device copy moves all of it:
/// first the <c>B</c> sequence lengths, then the <c>B × L</c> token ids row by row, each row padded to
/// <c>L</c> (the longest sequence of the batch) with the padding id.
/// </summary>
internal static class BatchPacker
{
    /// <summary>The padded length of <paramref name="batch"/>: its longest sequence, and at least 1.</summary>
    public static int PaddedLength(IReadOnlyList<TokenSequence> batch)
    {
        int longest = 1;
        for (int i = 0; i < batch.Count; i++)
        {
            longest = Math.Max(longest, batch[i].Length);
        }

        return longest;
    }

    /// <summary>The number of <c>int64</c> elements a packed batch occupies.</summary>
    public static long PackedElements(int batchSize, int paddedLength) => batchSize + (long)batchSize * paddedLength;

    /// <summary>Packs <paramref name="batch"/> into the start of <paramref name="destination"/> and returns the lengths.</summary>
    public static int[] Pack(IReadOnlyList<TokenSequence> batch, int paddedLength, long paddingId, Span<long> destination)
    {
        int count = batch.Count;
        if (destination.Length < PackedElements(count, paddedLength))
        {
            throw new ArgumentException("The staging buffer is too small for the batch.", nameof(destination));
        }

        var lengths = new int[count];
        Span<long> ids = destination.Slice(count, count * paddedLength);
        for (int row = 0; row < count; row++)
        {
            ReadOnlySpan<int> tokens = batch[row].Ids.Span;
            if (tokens.Length > paddedLength)
            {
                throw new ArgumentException($"Sequence {row} is longer than the padded length {paddedLength}.", nameof(batch));
            }

            lengths[row] = tokens.Length;
            destination[row] = tokens.Length;
            Span<long> target = ids.Slice(row * paddedLength, paddedLength);
            for (int t = 0; t < tokens.Length; t++)
            {
                target[t] = tokens[t];
            }

            target[tokens.Length..].Fill(paddingId);
        }
        return lengths;
    }
}
