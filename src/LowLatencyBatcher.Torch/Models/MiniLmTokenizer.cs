using System.Text;
using Microsoft.ML.Tokenizers;

namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// The all-MiniLM-L6-v2 tokenizer: Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/> (uncased WordPiece: lower-cased, accents removed)
/// over the model's vocabulary, adding <c>[CLS]</c> and <c>[SEP]</c>. The token count of an encoding is the exact
/// cost of the record in the batcher. Thread-safe.
/// </summary>
public sealed class MiniLmTokenizer
{
    private readonly BertTokenizer _tokenizer;

    private MiniLmTokenizer(BertTokenizer tokenizer, int maxTokens)
    {
        _tokenizer = tokenizer;
        MaxTokens = maxTokens;
    }

    /// <summary>The most tokens, <c>[CLS]</c> and <c>[SEP]</c> included, of an encoding: the model's positions.</summary>
    public int MaxTokens { get; }

    /// <summary>The id of <c>[PAD]</c>.</summary>
    public int PaddingId => _tokenizer.PaddingTokenId;

    /// <summary>Loads the vocabulary (one token a line; Windows line ends are accepted).</summary>
    /// <param name="vocabularyPath">The <c>vocab.txt</c> file, e.g. <see cref="MiniLmFiles.VocabularyPath"/>.</param>
    /// <param name="maxTokens">The model's positions; 512 for all-MiniLM-L6-v2.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static MiniLmTokenizer Load(string vocabularyPath, int maxTokens = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 2);
        if (!File.Exists(vocabularyPath))
        {
            throw new FileNotFoundException($"The vocabulary file '{vocabularyPath}' does not exist.", vocabularyPath);
        }

        // BertTokenizer splits lines on '\n' only; the packaged vocabulary ends its lines with "\r\n".
        string text = File.ReadAllText(vocabularyPath).Replace("\r\n", "\n", StringComparison.Ordinal);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        // As the model's own (uncased) tokenizer: lower-case, strip accents, split Chinese characters, basic tokenization.
        var tokenizer = BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            RemoveNonSpacingMarks = true,
            IndividuallyTokenizeCjk = true,
            ApplyBasicTokenization = true,
        });
        return new MiniLmTokenizer(tokenizer, maxTokens);
    }

    /// <summary>Encodes <paramref name="text"/>; a longer text is cut to <see cref="MaxTokens"/> (ending with <c>[SEP]</c>).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The token ids, <c>[CLS]</c> first and <c>[SEP]</c> last.</returns>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        IReadOnlyList<int> ids = _tokenizer.EncodeToIds(text, addSpecialTokens: true);
        if (ids.Count <= MaxTokens)
        {
            return [.. ids];
        }

        var truncated = new int[MaxTokens];
        for (int i = 0; i < MaxTokens - 1; i++)
        {
            truncated[i] = ids[i];
        }

        truncated[^1] = _tokenizer.SeparatorTokenId;
        return truncated;
    }

    /// <summary>Encodes <paramref name="text"/> without cutting it: the caller decides what to do with a long one.</summary>
    /// <param name="text">The text.</param>
    /// <returns>All its token ids, <c>[CLS]</c> first and <c>[SEP]</c> last.</returns>
    public int[] EncodeAll(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. _tokenizer.EncodeToIds(text, addSpecialTokens: true)];
    }
}
