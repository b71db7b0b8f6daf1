namespace LowLatencyBatcher.Torch.Runner;

/// <summary>Cuts a batch's model output, already on the host, into one array per record.</summary>
internal static class OutputSlicer
{
    /// <summary>
    /// Slices a row-major output. With <paramref name="perToken"/> false the output is <c>[B, F]</c> and record
    /// <c>i</c> gets row <c>i</c>; with it true the output is <c>[B, L, F]</c> and record <c>i</c> gets its first
    /// <c>lengths[i]</c> positions (<c>lengths[i] × F</c> values), leaving out the padding.
    /// </summary>
    public static float[][] Slice(ReadOnlySpan<float> output, long[] shape, int[] lengths, bool perToken)
    {
        int batch = lengths.Length;
        int expectedRank = perToken ? 3 : 2;
        if (shape.Length != expectedRank || shape[0] != batch)
        {
            throw new InvalidOperationException(
                $"The model returned shape [{string.Join(", ", shape)}]; expected rank {expectedRank} with {batch} rows.");
        }

        int positions = perToken ? checked((int)shape[1]) : 1;
        int features = checked((int)shape[^1]);
        int rowSize = positions * features;
        var results = new float[batch][];
        for (int i = 0; i < batch; i++)
        {
            int keep = perToken ? Math.Min(lengths[i], positions) * features : features;
            results[i] = output.Slice(i * rowSize, keep).ToArray();
        }
        return results;
    }
}
