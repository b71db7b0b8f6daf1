using LowLatencyBatcher.Torch.Models;

namespace LowLatencyBatcher.Models.Tests;

/// <summary>The BERT tokenizer over the packaged vocabulary.</summary>
public sealed class TokenizerTests
{
    private static readonly MiniLmTokenizer Tokenizer = MiniLmTokenizer.Load(MiniLmFiles.Default.EnsureExist().VocabularyPath);

    [Fact]
    public void A_sentence_gets_the_ids_of_the_reference_tokenizer()
    {
        Assert.Equal([101, 1037, 4937, 7719, 2006, 1996, 13523, 1012, 102], Tokenizer.Encode("A cat sits on the mat."));
        Assert.Equal(0, Tokenizer.PaddingId);
    }

    [Fact]
    public void Words_outside_the_vocabulary_are_split_into_word_pieces_and_case_is_ignored()
    {
        int[] lower = Tokenizer.Encode("unaffable tokenization");
        Assert.Equal(lower, Tokenizer.Encode("UNAFFABLE Tokenization"));
        Assert.True(lower.Length > 4, "rare words become several pieces");
        Assert.Equal(101, lower[0]);
        Assert.Equal(102, lower[^1]);
    }

    [Fact]
    public void Accents_are_removed_as_the_uncased_model_expects()
    {
        Assert.Equal(Tokenizer.Encode("cafe naive resume"), Tokenizer.Encode("Café naïve résumé"));
    }

    [Fact]
    public void A_long_text_is_cut_to_the_model_positions_and_still_ends_with_the_separator()
    {
        string text = string.Join(' ', Enumerable.Repeat("the cat sat", 400)); // 1200 words
        int[] all = Tokenizer.EncodeAll(text);
        int[] cut = Tokenizer.Encode(text);

        Assert.Equal(1202, all.Length);
        Assert.Equal(512, cut.Length);
        Assert.Equal(all[..511], cut[..511]);
        Assert.Equal(102, cut[^1]);
    }

    [Fact]
    public void A_missing_vocabulary_is_reported_with_its_path()
    {
        var error = Assert.Throws<FileNotFoundException>(() => MiniLmTokenizer.Load("/nonexistent/vocab.txt"));
        Assert.Contains("/nonexistent/vocab.txt", error.Message, StringComparison.Ordinal);
    }
}
