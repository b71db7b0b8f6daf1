using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;

namespace LowLatencyBatcher.Demo;

/// <summary>
/// Makes English-like prompts for the real model and tokenizes them with its tokenizer, so each record's cost is its
/// exact token count: many short prompts, a tail of long ones, as <see cref="PromptGenerator"/> draws lengths.
/// </summary>
internal static class TextPromptGenerator
{
    private static readonly string[] Words =
    [
        "the", "a", "batch", "of", "requests", "arrives", "at", "server", "and", "every", "caller", "waits", "for", "its",
        "own", "answer", "model", "runs", "on", "cpu", "while", "queue", "grows", "slowly", "river", "flows", "through",
        "valley", "near", "old", "town", "where", "children", "play", "in", "park", "after", "school", "cat", "sleeps",
        "warm", "mat", "by", "window", "market", "fell", "sharply", "today", "investors", "worried", "about", "rates",
        "doctor", "prescribed", "medicine", "patient", "recovered", "quickly", "train", "was", "delayed", "an", "hour",
        "because", "snow", "covered", "tracks", "she", "learns", "spanish", "every", "evening", "with", "friends",
    ];

    /// <summary>Draws <paramref name="count"/> prompts of <paramref name="minTokens"/> to <paramref name="maxTokens"/> tokens and tokenizes them.</summary>
    public static TokenSequence[] Generate(MiniLmTokenizer tokenizer, int count, int minTokens, int maxTokens, int seed)
    {
        var random = new Random(seed);
        var prompts = new TokenSequence[count];
        var words = new List<string>();
        for (int i = 0; i < count; i++)
        {
            double u = random.NextDouble();
            int target = minTokens + (int)Math.Round((maxTokens - minTokens) * u * u);
            words.Clear();
            // Every word above is one token: [CLS] + words + [SEP] is the target length.
            for (int w = 0; w < target - 2; w++)
            {
                words.Add(Words[random.Next(Words.Length)]);
            }

            prompts[i] = new TokenSequence(tokenizer.Encode(string.Join(' ', words)));
        }

        return prompts;
    }
}
