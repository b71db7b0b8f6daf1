namespace LowLatencyBatcher.Onnx;

/// <summary>Masked mean pooling and L2 normalisation of a model's per-token output.</summary>
internal static class Pooling
{
    /// <summary>
    /// Pools <paramref name="output"/>: <c>[B, L, H]</c> is averaged over each record's first <c>lengths[i]</c>
    /// positions; <c>[B, H]</c> is taken as it is. With <paramref name="normalize"/>, each row is scaled to unit length.
    /// </summary>
    public static float[][] Embeddings(ReadOnlySpan<float> output, long[] shape, int[] lengths, bool normalize)
    {
        int batch = lengths.Length;
        if (shape.Length is not (2 or 3) || shape[0] != batch)
        {
            throw new InvalidOperationException($"The model returned shape [{string.Join(", ", shape)}]; expected [{batch}, L, H] or [{batch}, H].");
        }

        int positions = shape.Length == 3 ? checked((int)shape[1]) : 1;
        int hidden = checked((int)shape[^1]);
        var results = new float[batch][];
        for (int row = 0; row < batch; row++)
        {
            var embedding = new float[hidden];
            ReadOnlySpan<float> block = output.Slice(row * positions * hidden, positions * hidden);
            if (shape.Length == 2)
            {
                block.CopyTo(embedding);
            }
            else
            {
                int real = Math.Min(lengths[row], positions);
                for (int t = 0; t < real; t++)
                {
                    ReadOnlySpan<float> token = block.Slice(t * hidden, hidden);
                    for (int h = 0; h < hidden; h++)
                    {
                        embedding[h] += token[h];
                    }
                }

                float scale = 1f / Math.Max(real, 1);
                for (int h = 0; h < hidden; h++)
                {
                    embedding[h] *= scale;
                }
            }

            if (normalize)
            {
                double squares = 0;
                foreach (float value in embedding)
                {
                    squares += (double)value * value;
                }

                float inverse = (float)(1 / Math.Max(Math.Sqrt(squares), 1e-12));
                for (int h = 0; h < hidden; h++)
                {
                    embedding[h] *= inverse;
                }
            }

            results[row] = embedding;
        }

        return results;
    }
}
