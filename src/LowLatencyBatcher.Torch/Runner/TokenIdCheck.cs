namespace LowLatencyBatcher.Torch.Runner;

/// <summary>
/// Checks token ids against the model's vocabulary before a batch is packed. On CUDA an embedding lookup with an
/// id outside <c>[0, vocabulary)</c> trips a device-side assert, which is sticky: every later CUDA call in the
/// process fails. So a bad id must never reach the device.
/// </summary>
internal static class TokenIdCheck
{
    /// <summary>
    /// The error for record <paramref name="index"/> when one of its ids lies outside
    /// <c>[0, <paramref name="vocabularySize"/>)</c>; <see langword="null"/> when all are inside.
    /// </summary>
    public static ArgumentOutOfRangeException? Check(TokenSequence record, int index, int vocabularySize)
    {
        ReadOnlySpan<int> ids = record.Ids.Span;
        for (int position = 0; position < ids.Length; position++)
        {
            int id = ids[position];
            if ((uint)id >= (uint)vocabularySize)
            {
                return new ArgumentOutOfRangeException(
                    "batch",
                    id,
                    $"Record {index}: token id {id} at position {position} is outside the model's vocabulary [0, {vocabularySize}).");
            }
        }
        return null;
    }
}
