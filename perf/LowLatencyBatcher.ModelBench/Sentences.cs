using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;

namespace LowLatencyBatcher.ModelBench;

/// <summary>Real-text records for the benchmark: sentences drawn from a small corpus, tokenized with the model's tokenizer.</summary>
internal static class Sentences
{
    private static readonly string[] Corpus =
    [
        "A cat sits on the mat.",
        "The stock market fell sharply today after the central bank raised interest rates again.",
        "How do I reset my password if I no longer have access to my email account?",
        "Batching many small requests together keeps an accelerator busy, but every caller still wants its own answer quickly.",
        "In the spring of 1887 the expedition reached the northern glacier, where temperatures fell to minus forty degrees and the instruments froze solid.",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
        "She opened the letter, read it twice, and laughed.",
        "Distributed systems must tolerate partial failures, network partitions and clocks that disagree by several milliseconds, which makes reasoning about ordering surprisingly hard.",
        "The library closes early on Tuesday.",
        "Rivers carve valleys over millions of years, carrying sediment to the sea and building deltas where they slow down.",
    ];

    /// <summary>
    /// <paramref name="count"/> records: each joins 1 to <paramref name="maxSentences"/> corpus sentences (skewed
    /// towards one), so lengths run from a few tokens to a long tail.
    /// </summary>
    public static TokenSequence[] Make(MiniLmTokenizer tokenizer, int count, int maxSentences, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double u = random.NextDouble();
            int sentences = 1 + (int)((maxSentences - 1) * u * u * u);
            string text = string.Join(' ', Enumerable.Range(0, sentences).Select(_ => Corpus[random.Next(Corpus.Length)]));
            return new TokenSequence(tokenizer.Encode(text));
        }).ToArray();
    }
}
