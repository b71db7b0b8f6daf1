using LowLatencyBatcher.Torch;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Models.Tests;

/// <summary>
/// The TorchSharp encoder against ONNX Runtime on the same model: 60 inputs from 1 to 300 tokens, each alone and in
/// padded batches of mixed lengths. ONNX Runtime with each input alone is the reference.
/// </summary>
public sealed class EquivalenceTests(MiniLmFixture model, ITestOutputHelper output) : IClassFixture<MiniLmFixture>
{
    private const double MinCosine = 0.99999;
    private const double MaxAbsoluteDifference = 1e-4;

    private const string Passage =
        "The quick brown fox jumps over the lazy dog while the farmer watches from the porch. Batching many small " +
        "requests together keeps an accelerator busy, but every caller still wants its own answer quickly. In the " +
        "spring of 1887 the expedition reached the northern glacier, where temperatures fell to minus forty degrees " +
        "and the instruments froze solid. Photosynthesis converts light energy into chemical energy stored in glucose; " +
        "chlorophyll absorbs mostly blue and red wavelengths. She opened the letter, read it twice, and laughed so hard " +
        "that the neighbours knocked on the wall. Interest rates rose for the third consecutive quarter, and analysts " +
        "expect housing prices to cool before the end of the year. A well-tuned tokenizer splits unfamiliar words like " +
        "'hyperparameterization' into word pieces. The orchestra tuned their instruments as the conductor raised the " +
        "baton, and the hall fell silent. Rivers carve valleys over millions of years, carrying sediment to the sea " +
        "and building deltas where they slow down. My grandmother's recipe calls for two cups of flour, three eggs, a " +
        "pinch of salt and plenty of patience. Distributed systems must tolerate partial failures, network partitions " +
        "and clocks that disagree by several milliseconds. On Tuesday the library will close early because of the " +
        "annual inventory, so please return your books by noon.";

    /// <summary>60 token sequences whose lengths run from 1 to 300: prefixes of one tokenized passage, ended by [SEP].</summary>
    private TokenSequence[] Inputs()
    {
        int[] all = model.Tokenizer.EncodeAll(string.Join(' ', Enumerable.Repeat(Passage, 2)));
        Assert.True(all.Length > 300, "the passage is long enough");
        int[] lengths = [1, 2, 3, .. Enumerable.Range(0, 57).Select(i => 4 + (int)Math.Round(296.0 * i * i / (56.0 * 56.0)))];
        Assert.Equal(300, lengths[^1]);
        return lengths.Select((length, i) =>
        {
            int[] ids = new int[length];
            int start = length <= 2 ? 0 : (i * 7) % (all.Length - length); // different text in each input
            Array.Copy(all, start, ids, 0, length);
            ids[0] = 101;
            if (length > 1)
            {
                ids[^1] = 102;
            }

            return new TokenSequence(ids);
        }).ToArray();
    }

    [Fact]
    public async Task Torch_matches_onnx_runtime_alone_and_in_padded_batches()
    {
        TokenSequence[] inputs = Inputs();
        var reference = new float[inputs.Length][];
        var torchAlone = new float[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            reference[i] = (await model.Onnx.ProcessAsync([inputs[i]]))[0];
            torchAlone[i] = (await model.Torch.ProcessAsync([inputs[i]]))[0];
        }

        // Padded batches mixing short and long inputs: each batch pads to its longest.
        int[] order = Enumerable.Range(0, inputs.Length).OrderBy(i => (i * 37) % inputs.Length).ToArray();
        var torchBatched = new float[inputs.Length][];
        var onnxBatched = new float[inputs.Length][];
        foreach (int[] chunk in order.Chunk(12))
        {
            TokenSequence[] batch = chunk.Select(i => inputs[i]).ToArray();
            IReadOnlyList<float[]> torch = await model.Torch.ProcessAsync(batch);
            IReadOnlyList<float[]> onnx = await model.Onnx.ProcessAsync(batch);
            for (int j = 0; j < chunk.Length; j++)
            {
                torchBatched[chunk[j]] = torch[j];
                onnxBatched[chunk[j]] = onnx[j];
            }
        }

        Check("torch alone vs onnx alone", reference, torchAlone, inputs);
        Check("torch batched vs onnx alone", reference, torchBatched, inputs);
        Check("onnx batched vs onnx alone", reference, onnxBatched, inputs);
    }

    private void Check(string what, float[][] expected, float[][] actual, TokenSequence[] inputs)
    {
        double worstCosine = 1, worstDifference = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(384, actual[i].Length);
            double cosine = MiniLmFixture.Cosine(expected[i], actual[i]);
            double difference = expected[i].Zip(actual[i], (a, b) => (double)Math.Abs(a - b)).Max();
            Assert.True(cosine >= MinCosine, $"{what}: input {i} ({inputs[i].Length} tokens) has cosine {cosine:F7}");
            Assert.True(difference <= MaxAbsoluteDifference, $"{what}: input {i} ({inputs[i].Length} tokens) differs by {difference:E2}");
            worstCosine = Math.Min(worstCosine, cosine);
            worstDifference = Math.Max(worstDifference, difference);
        }

        output.WriteLine($"{what}: {expected.Length} inputs, worst cosine {worstCosine:F9} (1 - cosine = {1 - worstCosine:E1}), worst abs diff {worstDifference:E2}");
    }
}
