using System.Diagnostics;
using LowLatencyBatcher;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Runner;

// Before the first torch call: on GCC-12 hosts this loads the compatibility shim the build placed next to the program.
TorchNative.EnsureLoaded();

// The demo encoder (random weights, fixed seed) stands in for a trained one: any nn.Module<Tensor, Tensor, Tensor>
// taking token ids and a padding mask and returning one vector per sequence plugs in the same way.
var encoderOptions = new DemoEncoderOptions();
using var model = new DemoEncoder(encoderOptions);
using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions
{
    Device = "auto",           // CUDA when this build has it and a GPU is present (-p:TorchBackend=cuda), else the CPU
    MaxBatchSize = 32,
    InitialSequenceLength = 64,
});
Console.WriteLine($"Demo encoder ({encoderOptions.Layers} layers, width {encoderOptions.ModelDimension}) on {runner.Device}");

await using var batcher = new TokenBatcher<TokenSequence, float[]>(runner.ProcessAsync, new TokenBatcherOptions<TokenSequence>
{
    TargetBatchTokens = 32 * 64,
    MaxBatchSize = 32,
    BatchTimeout = TimeSpan.FromMilliseconds(5),
    Workers = 2,               // the runner packs and copies the next batch while the model computes this one
});
await batcher.StartAsync();

// 256 token sequences of 8 to 64 ids, submitted by 256 concurrent callers.
var random = new Random(7);
TokenSequence[] sequences = Enumerable.Range(0, 256)
    .Select(_ => (TokenSequence)Enumerable.Range(0, random.Next(8, 65)).Select(_ => random.Next(1, encoderOptions.VocabularySize)).ToArray())
    .ToArray();
var clock = Stopwatch.StartNew();
float[][] embeddings = await Task.WhenAll(sequences.Select(sequence => batcher.SubmitAsync(sequence).AsTask()));
clock.Stop();

await batcher.StopAsync();
Console.WriteLine($"{embeddings.Length} embeddings of {embeddings[0].Length} values in {clock.Elapsed.TotalMilliseconds:F0} ms");
Console.WriteLine(batcher.Stats);
