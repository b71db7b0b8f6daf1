namespace LowLatencyBatcher.Server;

/// <summary>
/// A small deterministic tokenizer for the demo model: a run of letters and digits is one token (lower-cased), any
/// other character except white space is a token of its own, and each token maps to an id in
/// <c>[1, vocabularySize)</c> by a 32-bit FNV-1a hash (id 0 stays free for padding). It needs no vocabulary file.
/// </summary>
public sealed class SimpleTokenizer : IInputTokenizer
{
    private const uint FnvOffset = 2166136261;
    private const uint FnvPrime = 16777619;
    private readonly uint _ids;

    /// <summary>Creates a tokenizer for a model with <paramref name="vocabularySize"/> token ids.</summary>
    /// <param name="vocabularySize">The model's vocabulary size; at least 2.</param>
    public SimpleTokenizer(int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 2);
        _ids = (uint)vocabularySize - 1;
    }

    /// <summary>Splits <paramref name="text"/> into tokens and returns their ids, in order.</summary>
    /// <param name="text">The text.</param>
    public int[] Encode(string text) => Encode(text.AsSpan());

    /// <summary>Splits <paramref name="text"/> into tokens and returns their ids, in order.</summary>
    /// <param name="text">The text.</param>
    public int[] Encode(ReadOnlySpan<char> text)
    {
        var ids = new List<int>(text.Length / 4 + 1);
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            uint hash = FnvOffset;
            if (char.IsLetterOrDigit(c))
            {
                while (i < text.Length && char.IsLetterOrDigit(text[i]))
                {
                    hash = Mix(hash, char.ToLowerInvariant(text[i]));
                    i++;
                }
            }
            else
            {
                hash = Mix(hash, c);
                i++;
            }

            ids.Add(1 + (int)(hash % _ids));
        }

        return ids.ToArray();
    }

    private static uint Mix(uint hash, char c)
    {
        hash = (hash ^ (byte)c) * FnvPrime;
        return (hash ^ (byte)(c >> 8)) * FnvPrime;
    }
}
