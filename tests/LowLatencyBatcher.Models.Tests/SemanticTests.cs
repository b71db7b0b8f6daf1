namespace LowLatencyBatcher.Models.Tests;

/// <summary>The real model's embeddings mean something: a paraphrase is closer than an unrelated sentence.</summary>
public sealed class SemanticTests(MiniLmFixture model) : IClassFixture<MiniLmFixture>
{
    private static readonly (string Anchor, string Paraphrase, string Unrelated)[] Triples =
    [
        ("A cat sits on the mat.", "A kitten is resting on a rug.", "The stock market fell sharply today."),
        ("How do I reset my password?", "I forgot my login password and need to change it.", "The recipe needs two cups of flour."),
        ("The train to Berlin is delayed by an hour.", "Our train to Berlin will arrive sixty minutes late.", "Penguins live in the southern hemisphere."),
        ("He plays the guitar in a rock band.", "He is the guitarist of a rock group.", "The invoice is due at the end of the month."),
        ("It is raining heavily outside.", "There is a downpour outside right now.", "She bought a new laptop for university."),
        ("The doctor prescribed antibiotics for the infection.", "The physician gave her medication to treat the infection.", "The football match ended in a draw."),
        ("Children are playing in the park.", "Kids are having fun at the playground.", "The company reported record quarterly earnings."),
        ("I would like to book a table for two tonight.", "Can I reserve a table for two people this evening?", "Volcanoes form where tectonic plates meet."),
        ("The server crashed because it ran out of memory.", "An out-of-memory error brought the server down.", "The garden is full of blooming roses."),
        ("She is learning to speak Spanish.", "She is taking Spanish language lessons.", "The bridge was closed for repairs last week."),
    ];

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task A_paraphrase_is_closer_than_an_unrelated_sentence_in_every_triple(string backend)
    {
        foreach ((string anchor, string paraphrase, string unrelated) in Triples)
        {
            float[][] vectors = await model.EmbedAsync(backend, anchor, paraphrase, unrelated);
            double close = MiniLmFixture.Cosine(vectors[0], vectors[1]);
            double far = MiniLmFixture.Cosine(vectors[0], vectors[2]);
            Assert.True(close > far, $"{backend}: '{anchor}' is {close:F3} from its paraphrase and {far:F3} from '{unrelated}'");
        }
    }

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task The_cat_sentences_score_as_sentence_transformers_scores_them(string backend)
    {
        float[][] vectors = await model.EmbedAsync(backend, "A cat sits on the mat.", "A kitten is resting on a rug.", "The stock market fell sharply today.");

        Assert.Equal(0.655, MiniLmFixture.Cosine(vectors[0], vectors[1]), 0.005);
        Assert.Equal(0.091, MiniLmFixture.Cosine(vectors[0], vectors[2]), 0.005);
        foreach (float[] vector in vectors)
        {
            Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-5);
        }
    }
}
