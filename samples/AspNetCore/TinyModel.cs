using LowLatencyBatcher;

/// <summary>
/// A stand-in for an embedding model with the batcher's process-function shape, so that the sample runs with nothing
/// to download: each text becomes a small vector of character statistics. Replace it with your model.
/// </summary>
public sealed class TinyModel
{
    /// <summary>Embeds one batch: one vector per record, in the batch's order.</summary>
    /// <param name="batch">The batch (a pooled view, valid only during this call).</param>
    /// <param name="cancellationToken">Cancels the whole batch.</param>
    /// <returns>One embedding per record.</returns>
    public async ValueTask<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<Prompt> batch, CancellationToken cancellationToken)
    {
        await Task.Delay(1, cancellationToken); // a real model takes a while; batching pays that once per batch
        return batch.Select(prompt => Embed(prompt.Text)).ToArray();
    }

    private static float[] Embed(string text)
    {
        var vector = new float[8];
        foreach (char c in text)
        {
            vector[c % vector.Length] += 1;
        }

        float norm = MathF.Sqrt(vector.Sum(v => v * v));
        return norm == 0 ? vector : vector.Select(v => v / norm).ToArray();
    }
}
