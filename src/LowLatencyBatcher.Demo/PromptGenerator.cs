using LowLatencyBatcher.Torch;

namespace LowLatencyBatcher.Demo;

/// <summary>Makes synthetic tokenized prompts: many short ones, a tail of long ones.</summary>
internal static class PromptGenerator
{
    public static TokenSequence[] Generate(int count, int minTokens, int maxTokens, int vocabularySize, int seed)
    {
        var random = new Random(seed);
        var prompts = new TokenSequence[count];
        for (int i = 0; i < count; i++)
        {
            // Squaring a uniform draw skews lengths towards the short end, as chat-style traffic is.
            double u = random.NextDouble();
            int length = minTokens + (int)Math.Round((maxTokens - minTokens) * u * u);
            var ids = new int[length];
            for (int t = 0; t < length; t++)
            {
                ids[t] = random.Next(1, vocabularySize);
            }

            prompts[i] = new TokenSequence(ids);
        }
        return prompts;
    }
}
