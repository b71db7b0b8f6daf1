using LowLatencyBatcher;

var model = new TinyModel();                  // your model here; TinyModel.cs is a stand-in that needs no download
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
CancellationToken ct = timeout.Token;         // a caller's token: cancels that caller's record only

await using var batcher = new TokenBatcher<Prompt, float[]>(
    inferenceFn: async (batch, cancellationToken) =>
    {
        // batch is a pooled view, valid only during this call: copy what must outlive it.
        float[][] embeddings = await model.EmbedAsync(batch.Select(p => p.Text).ToArray(), cancellationToken);
        return embeddings; // one result per record, in the batch's order
    },
    new TokenBatcherOptions<Prompt>
    {
        TargetBatchTokens = 8_192,           // hard budget per batch (a lone bigger record runs alone)
        MaxBatchSize = 64,
        BatchTimeout = TimeSpan.FromMilliseconds(5),
        MaxQueueSize = 10_000,               // submits wait (backpressure) beyond this; TrySubmit returns false
        Workers = 2,                          // batches inside the inference function at once
    });

await batcher.StartAsync();
float[] vector = await batcher.SubmitAsync(new Prompt("hello world"));   // Prompt estimates Text.Length / 4 + 1 tokens
float[] other = await batcher.SubmitAsync(new Prompt("…"), estimatedTokens: 12, cancellationToken: ct);
Console.WriteLine(batcher.Stats);                                        // counts, averages, busy/idle, utilization
await batcher.StopAsync();                                               // drains everything accepted
