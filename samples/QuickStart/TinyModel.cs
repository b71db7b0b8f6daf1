/// <summary>
/// A stand-in for an embedding model, so that the quick start runs with nothing to download: each text becomes a
/// small vector of character statistics. Replace it with your model (ONNX Runtime, TorchSharp, a remote call).
/// </summary>
public sealed class TinyModel
{
    /// <summary>Embeds a batch of texts: one vector per text, in the same order.</summary>
    /// <param name="texts">The texts of one batch.</param>
    /// <param name="cancellationToken">Cancels the whole batch.</param>
    /// <returns>One embedding per text.</returns>
    public async Task<float[][]> EmbedAsync(string[] texts, CancellationToken cancellationToken)
    {
        await Task.Delay(1, cancellationToken); // a real model takes a while; batching pays that once per batch
        return texts.Select(Embed).ToArray();
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
