using System.Net.Http.Json;
using LowLatencyBatcher;
using LowLatencyBatcher.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSingleton<TinyModel>();

// The batcher is a singleton: started with the host, drained on shutdown; its options come from "Batcher" in
// appsettings.json (or --Batcher:MaxBatchSize=32 on the command line) and follow reloads while it runs.
builder.Services.AddTokenBatcher<Prompt, float[]>(provider => provider.GetRequiredService<TinyModel>().EmbedAsync, "embeddings")
    .BindConfiguration("Batcher");

var app = builder.Build();

// Each request submits one record; concurrent requests share batches. A full queue answers 503 at once.
app.MapPost("/embed", async (EmbedRequest request, TokenBatcher<Prompt, float[]> batcher, CancellationToken cancellationToken) =>
{
    if (string.IsNullOrEmpty(request.Text))
    {
        return Results.Problem(title: "'text' is required.", statusCode: StatusCodes.Status400BadRequest);
    }

    if (!batcher.TrySubmit(new Prompt(request.Text), default(SubmitOptions), out ValueTask<float[]> embedding, cancellationToken))
    {
        return Results.Problem(title: "The server is at capacity.", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    return Results.Ok(new EmbedResponse(await embedding));
});

if (args.Contains("--serve"))
{
    await app.RunAsync(); // serves until Ctrl+C, e.g. curl -d '{"text":"hello"}' -H 'Content-Type: application/json' http://localhost:5000/embed
    return;
}

// Without --serve: starts on a free loopback port, sends a few concurrent requests to itself, prints them and stops.
app.Urls.Add("http://127.0.0.1:0");
await app.StartAsync();
using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
string[] texts = ["hello world", "dynamic batching", "one record per request", "many requests per batch"];
EmbedResponse?[] answers = await Task.WhenAll(texts.Select(async text =>
{
    using HttpResponseMessage response = await client.PostAsJsonAsync("/embed", new EmbedRequest(text));
    response.EnsureSuccessStatusCode();
    return await response.Content.ReadFromJsonAsync<EmbedResponse>();
}));
for (int i = 0; i < texts.Length; i++)
{
    Console.WriteLine($"{texts[i],-24} -> [{string.Join(", ", answers[i]!.Embedding.Take(4).Select(v => v.ToString("F3")))}, ...]");
}

Console.WriteLine(app.Services.GetRequiredService<TokenBatcher<Prompt, float[]>>().Stats);
await app.StopAsync();
