using System.Text;
using LowLatencyBatcher;
using LowLatencyBatcher.Onnx;
using Microsoft.ML.Tokenizers;

// all-MiniLM-L6-v2 (put next to this program by the build) behind a TokenBatcher: every sentence is submitted on its
// own, concurrently, and the batcher packs them into padded batches for ONNX Runtime.
string folder = Path.Combine(AppContext.BaseDirectory, "models", "all-MiniLM-L6-v2");

// The model's uncased WordPiece tokenizer. The packaged vocab.txt ends its lines with "\r\n"; BertTokenizer wants "\n".
string vocabulary = File.ReadAllText(Path.Combine(folder, "vocab.txt")).Replace("\r\n", "\n", StringComparison.Ordinal);
BertTokenizer tokenizer = BertTokenizer.Create(
    new MemoryStream(Encoding.UTF8.GetBytes(vocabulary)),
    new BertOptions { LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true });

using var model = new OnnxEmbeddingRunner<Sentence>(Path.Combine(folder, "model.onnx"), sentence => sentence.Ids);
await using var batcher = new TokenBatcher<Sentence, float[]>(model.ProcessAsync, new TokenBatcherOptions<Sentence>
{
    TargetBatchTokens = 2_048,
    MaxBatchSize = 32,
    BatchTimeout = TimeSpan.FromMilliseconds(5),
});
await batcher.StartAsync();

string[] texts =
[
    "A cat sits on the mat.",
    "A kitten is resting on a rug.",
    "The stock market fell sharply today.",
    "Shares dropped steeply this afternoon.",
];
// Each sentence from its own caller, all at once, as requests arrive at a service.
float[][] vectors = await Task.WhenAll(texts.Select(text => Task.Run(async () =>
    await batcher.SubmitAsync(new Sentence(text, [.. tokenizer.EncodeToIds(text)])))));
await batcher.StopAsync();

// The vectors have unit length: the dot product is the cosine similarity.
static float Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum();
for (int i = 0; i < texts.Length; i++)
{
    int nearest = Enumerable.Range(0, texts.Length).Where(j => j != i).MaxBy(j => Cosine(vectors[i], vectors[j]));
    Console.WriteLine($"{texts[i],-40} nearest: {texts[nearest]} ({Cosine(vectors[i], vectors[nearest]):F3})");
}

BatchStats stats = batcher.Stats;
Console.WriteLine($"{stats.TotalCompleted} sentences in {stats.TotalBatches} batch(es); {vectors[0].Length} dimensions.");
