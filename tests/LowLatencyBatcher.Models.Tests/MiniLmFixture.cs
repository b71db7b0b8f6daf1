using LowLatencyBatcher.Onnx;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;

namespace LowLatencyBatcher.Models.Tests;

/// <summary>The real all-MiniLM-L6-v2, loaded once per test class: the tokenizer and both backends on the CPU.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmFixture()
    {
        Files = MiniLmFiles.Default.EnsureExist();
        Tokenizer = MiniLmTokenizer.Load(Files.VocabularyPath);
        Encoder = BertEncoder.Load(Files.ModelPath);
        Torch = new TokenBatchRunner(Encoder, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = 64, PaddingId = Tokenizer.PaddingId });
        Onnx = new OnnxEmbeddingRunner<TokenSequence>(Files.ModelPath, record => record.Ids, new OnnxEmbeddingRunnerOptions { PaddingId = Tokenizer.PaddingId });
    }

    public MiniLmFiles Files { get; }

    public MiniLmTokenizer Tokenizer { get; }

    public BertEncoder Encoder { get; }

    public TokenBatchRunner Torch { get; }

    public OnnxEmbeddingRunner<TokenSequence> Onnx { get; }

    /// <summary>Embeds texts with one backend, all in one batch.</summary>
    public async Task<float[][]> EmbedAsync(string backend, params string[] texts)
    {
        TokenSequence[] batch = texts.Select(text => new TokenSequence(Tokenizer.Encode(text))).ToArray();
        IReadOnlyList<float[]> result = backend == "torch" ? await Torch.ProcessAsync(batch) : await Onnx.ProcessAsync(batch);
        return [.. result];
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    public void Dispose()
    {
        Torch.Dispose();
        Onnx.Dispose();
        Encoder.Dispose();
    }
}
