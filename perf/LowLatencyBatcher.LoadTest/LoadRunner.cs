using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using HdrHistogram;

namespace LowLatencyBatcher.LoadTest;

/// <summary>What one concurrency level measured.</summary>
internal sealed record LevelResult(int Concurrency, long Ok, long Unavailable, long Errors, TimeSpan Elapsed, LongHistogram Latency)
{
    public double RequestsPerSecond => Ok / Elapsed.TotalSeconds;

    public double PercentileMs(double percentile) => Ok == 0 ? double.NaN : Latency.GetValueAtPercentile(percentile) / 1000.0;
}

/// <summary>What the overload probe saw.</summary>
internal sealed record OverloadResult(int Requests, int InputsEach, int Ok, int Unavailable, int UnavailableWithRetryAfter, int Other, int OkWithAllEmbeddings);

/// <summary>Drives the server: closed-loop clients (each sends its next request when the previous one is answered).</summary>
internal sealed class LoadRunner(HttpClient client, LoadOptions options)
{
    /// <summary>Latencies are recorded in microseconds, up to a minute.</summary>
    public const long HighestMicros = 60_000_000;

    private static readonly string[] Words =
    [
        "batch", "token", "model", "queue", "latency", "vector", "server", "request", "embedding", "tensor", "worker",
        "budget", "cost", "record", "timeout", "result", "the", "a", "of", "and", "fast", "small", "many", "one",
        "concurrent", "callers", "submit", "pack", "dispatch", "drain", "kestrel", "hosted", "metrics", "histogram",
    ];

    private readonly byte[][] _bodies = MakeBodies(options, 512);

    /// <summary>Runs one level: a warm-up, then up to the duration or the request cap, whichever comes first.</summary>
    public async Task<LevelResult> RunLevelAsync(int concurrency)
    {
        await RunClientsAsync(concurrency, options.Warmup, int.MaxValue, null);
        var histogram = new LongHistogram(HighestMicros, 3);
        var started = Stopwatch.GetTimestamp();
        var (ok, unavailable, errors) = await RunClientsAsync(concurrency, options.Duration, options.MaxRequests, histogram);
        return new LevelResult(concurrency, ok, unavailable, errors, Stopwatch.GetElapsedTime(started), histogram);
    }

    /// <summary>Sends <paramref name="requests"/> requests of <paramref name="inputsEach"/> inputs all at once.</summary>
    public async Task<OverloadResult> OverloadAsync(int requests, int inputsEach)
    {
        var random = new Random(options.Seed + 1);
        var bodies = Enumerable.Range(0, requests)
            .Select(_ => JsonContent.Create(new { input = Enumerable.Range(0, inputsEach).Select(_ => Sentence(random, options)).ToArray() }))
            .ToArray();
        var responses = await Task.WhenAll(bodies.Select(async body =>
        {
            HttpResponseMessage response;
            try
            {
                response = await client.PostAsync("/v1/embeddings", body);
            }
            catch (TaskCanceledException)
            {
                // The client's own timeout: a slow model had not answered an accepted request in time ("other").
                return (StatusCode: (HttpStatusCode)0, RetryAfter: false, embeddings: 0);
            }

            using var _ = response;
            int embeddings = 0;
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var json = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
                embeddings = json.GetProperty("data").GetArrayLength();
            }

            return (StatusCode: response.StatusCode, RetryAfter: response.Headers.RetryAfter is not null, embeddings);
        }));
        return new OverloadResult(
            requests,
            inputsEach,
            responses.Count(r => r.StatusCode == HttpStatusCode.OK),
            responses.Count(r => r.StatusCode == HttpStatusCode.ServiceUnavailable),
            responses.Count(r => r.StatusCode == HttpStatusCode.ServiceUnavailable && r.RetryAfter),
            responses.Count(r => r.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable)),
            responses.Count(r => r.StatusCode == HttpStatusCode.OK && r.embeddings == inputsEach));
    }

    /// <summary>Sends each bad request once and returns what came back.</summary>
    public async Task<List<(string Case, int Status, string Code)>> ProbeBadInputAsync(int maxInputs, int maxTokens)
    {
        var cases = new (string Case, string Json)[]
        {
            ("malformed JSON", "{\"input\": [\"unterminated"),
            ("empty string", "{\"input\": \"\"}"),
            ("empty array", "{\"input\": []}"),
            ($"too many inputs ({maxInputs + 1})", $"{{\"input\": [{string.Join(',', Enumerable.Repeat("\"x\"", maxInputs + 1))}]}}"),
            ($"input too long ({maxTokens + 1} tokens)", $"{{\"input\": \"{string.Join(' ', Enumerable.Repeat("w", maxTokens + 1))}\"}}"),
            ("token ids instead of text", "{\"input\": [1, 2, 3]}"),
            ("unknown model", "{\"input\": \"x\", \"model\": \"text-embedding-3-small\"}"),
        };
        var results = new List<(string, int, string)>();
        foreach (var (name, json) in cases)
        {
            using var response = await client.PostAsync("/v1/embeddings", new StringContent(json, Encoding.UTF8, "application/json"));
            var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            string code = problem.TryGetProperty("code", out var c) ? c.GetString() ?? "" : "";
            results.Add((name, (int)response.StatusCode, $"{response.Content.Headers.ContentType?.MediaType}, code `{code}`"));
        }

        return results;
    }

    private async Task<(long Ok, long Unavailable, long Errors)> RunClientsAsync(
        int concurrency, TimeSpan duration, int maxRequests, LongHistogram? histogram)
    {
        long ok = 0, unavailable = 0, errors = 0, issued = 0;
        long deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var recorders = Enumerable.Range(0, concurrency).Select(_ => histogram is null ? null : new LongHistogram(HighestMicros, 3)).ToArray();

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async clientIndex =>
        {
            int next = clientIndex * 7919;
            while (Stopwatch.GetTimestamp() < deadline && Interlocked.Increment(ref issued) <= maxRequests)
            {
                byte[] body = _bodies[next++ % _bodies.Length];
                long start = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new("application/json");
                    using var response = await client.PostAsync("/v1/embeddings", content);
                    await response.Content.CopyToAsync(Stream.Null);
                    long micros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    switch (response.StatusCode)
                    {
                        case HttpStatusCode.OK:
                            Interlocked.Increment(ref ok);
                            recorders[clientIndex]?.RecordValue(Math.Clamp(micros, 1, HighestMicros));
                            break;
                        case HttpStatusCode.ServiceUnavailable:
                            Interlocked.Increment(ref unavailable);
                            break;
                        default:
                            Interlocked.Increment(ref errors);
                            break;
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
                catch (TaskCanceledException)
                {
                    Interlocked.Increment(ref errors); // the client's own timeout
                }
            }
        }));

        foreach (var recorder in recorders)
        {
            if (recorder is not null)
            {
                histogram!.Add(recorder);
            }
        }

        return (ok, unavailable, errors);
    }

    private static byte[][] MakeBodies(LoadOptions options, int count)
    {
        var random = new Random(options.Seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            object input = options.Inputs == 1
                ? Sentence(random, options)
                : Enumerable.Range(0, options.Inputs).Select(_ => Sentence(random, options)).ToArray();
            return JsonContent.Create(new { input }).ReadAsByteArrayAsync().GetAwaiter().GetResult();
        }).ToArray();
    }

    private static string Sentence(Random random, LoadOptions options)
    {
        int words = random.Next(options.MinWords, options.MaxWords + 1);
        return string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)]));
    }
}
