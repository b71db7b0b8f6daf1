using System.Net.Http.Json;
using System.Text.Json;
using LowLatencyBatcher.Torch;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The server in memory (TestServer), with settings and, optionally, a stand-in for the model.</summary>
public sealed class ServerFactory(IReadOnlyDictionary<string, string?>? settings = null, ProcessFn<TokenSequence, float[]>? model = null)
    : WebApplicationFactory<Program>
{
    /// <summary>Every wait in these tests is bounded by this; none of them should come close to it.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public ServerFactory() : this(null, null)
    {
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Embeddings:Device", "cpu");
        builder.UseSetting("Embeddings:Model", "demo"); // the fast random encoder; RealModelTests run all-MiniLM-L6-v2
        builder.UseSetting("Batcher:PinPackingThread", "false");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        if (model is not null)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(model));
        }
    }
}

/// <summary>A stand-in model that holds every batch until <see cref="Open"/>; the embedding of a record is [its token count, its first id].</summary>
public sealed class GatedModel
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _seen = new();
    private int _entered;

    public int Entered => Volatile.Read(ref _entered);

    /// <summary>The token count of every input the model was called with.</summary>
    public IReadOnlyCollection<int> SeenLengths => _seen.ToArray();

    public void Open() => _gate.TrySetResult();

    public async ValueTask<IReadOnlyList<float[]>> ProcessAsync(IReadOnlyList<TokenSequence> batch, CancellationToken cancellationToken)
    {
        float[][] results = batch.Select(s => new float[] { s.Length, s.Ids.Span[0] }).ToArray();
        foreach (var sequence in batch)
        {
            _seen.Enqueue(sequence.Length);
        }

        Interlocked.Increment(ref _entered);
        await _gate.Task.WaitAsync(cancellationToken);
        return results;
    }
}

/// <summary>Shortcuts for embeddings requests and their responses.</summary>
public static class Http
{
    public static Task<HttpResponseMessage> EmbedAsync(this HttpClient client, object body) =>
        client.PostAsJsonAsync("/v1/embeddings", body);

    public static Task<HttpResponseMessage> EmbedRawAsync(this HttpClient client, string json) =>
        client.PostAsync("/v1/embeddings", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).Clone();

    public static float[] Embedding(this JsonElement response, int index) =>
        response.GetProperty("data")[index].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
}

/// <summary>Reads a Prometheus text-format scrape.</summary>
public static class Prometheus
{
    /// <summary>The value of every series of <paramref name="metric"/>, in the order the scrape lists them.</summary>
    public static long[] SeriesValues(string scrape, string metric) => scrape.Split('\n')
        .Where(line => line.StartsWith(metric + "{", StringComparison.Ordinal))
        .Select(line => long.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture))
        .ToArray();
}
