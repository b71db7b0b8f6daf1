using System.Net;
using LowLatencyBatcher.Torch;
using Microsoft.Extensions.DependencyInjection;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>A full queue: 503 with Retry-After at once, never a wait; every accepted request still gets its answer.</summary>
public sealed class BackpressureTests
{
    // Room for a handful of records at most: one in the worker, one prefetched, one packed, one queued.
    private static readonly Dictionary<string, string?> Tight = new()
    {
        ["Batcher:MaxQueueSize"] = "1",
        ["Batcher:MaxBatchSize"] = "1",
        ["Batcher:PrefetchBatches"] = "1",
        ["Batcher:Workers"] = "1",
        ["Embeddings:RetryAfterSeconds"] = "2",
    };

    [Fact]
    public async Task A_full_queue_gets_503_with_Retry_After_and_every_accepted_request_its_answer()
    {
        var model = new GatedModel();
        using var factory = new ServerFactory(Tight, model.ProcessAsync);
        using var client = factory.CreateClient();
        var batcher = factory.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();

        // Single-input requests: the first few are accepted and wait for the model, the rest are refused at once.
        var requests = Enumerable.Range(1, 12)
            .Select(i => client.EmbedAsync(new { input = string.Join(' ', Enumerable.Repeat("w", i)) }))
            .ToArray();
        var refused = new List<HttpResponseMessage>();
        foreach (var request in requests)
        {
            var finished = await Task.WhenAny(request, Task.Delay(TimeSpan.FromMilliseconds(300)));
            if (finished == request)
            {
                refused.Add(await request);
            }
        }

        Assert.NotEmpty(refused);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), r.Headers.RetryAfter?.Delta);
        });
        Assert.Contains(requests, r => !r.IsCompleted); // the accepted ones are waiting for the model

        model.Open();
        var responses = await Task.WhenAll(requests).WaitAsync(ServerFactory.Bound);
        int answered = 0;
        for (int i = 0; i < responses.Length; i++)
        {
            if (responses[i].StatusCode == HttpStatusCode.OK)
            {
                answered++;
                float[] embedding = (await responses[i].JsonAsync()).Embedding(0);
                Assert.Equal(i + 1, embedding[0]); // the stand-in model answers with the token count: request i's own
            }
            else
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, responses[i].StatusCode);
            }
        }

        Assert.InRange(answered, 1, 11);
        Assert.Equal(12 - answered, responses.Count(r => r.StatusCode == HttpStatusCode.ServiceUnavailable));

        // Nothing is left behind.
        Assert.True(SpinWait.SpinUntil(() => batcher.Stats is { } s && s.TotalCompleted == s.TotalSubmitted, ServerFactory.Bound));
        Assert.Equal(0, batcher.Stats.TotalFailed + batcher.Stats.TotalCancelled);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task A_request_that_does_not_fit_whole_is_refused_at_once_and_its_accepted_inputs_are_drained()
    {
        var model = new GatedModel();
        using var factory = new ServerFactory(Tight, model.ProcessAsync);
        using var client = factory.CreateClient();
        var batcher = factory.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();

        // With the model held, a request of 8 inputs cannot fit: it is refused at once.
        using (var whole = await client.EmbedAsync(new { input = Enumerable.Range(0, 8).Select(i => $"input {i}").ToArray() }).WaitAsync(ServerFactory.Bound))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, whole.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), whole.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", whole.Content.Headers.ContentType?.MediaType);
            Assert.Equal("queue_full", (await whole.JsonAsync()).GetProperty("code").GetString());
        }

        Assert.True(batcher.Stats.TotalSubmitted is > 0 and < 8, $"accepted before the refusal: {batcher.Stats.TotalSubmitted}");
        model.Open();
        Assert.True(SpinWait.SpinUntil(() => batcher.Stats is { } s && s.TotalCompleted == s.TotalSubmitted, ServerFactory.Bound));

        using var after = await client.EmbedAsync(new { input = "room again" }).WaitAsync(ServerFactory.Bound);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_refused_request_runs_none_of_its_inputs()
    {
        var model = new GatedModel();
        using var factory = new ServerFactory(Tight, model.ProcessAsync);
        using var client = factory.CreateClient();
        var batcher = factory.Services.GetRequiredService<TokenBatcher<TokenSequence, float[]>>();

        // One single-input request of 1 token holds the worker, so nothing of the next request can reach the model yet.
        var holding = client.EmbedAsync(new { input = "w" });
        Assert.True(SpinWait.SpinUntil(() => model.Entered == 1, ServerFactory.Bound));

        // 8 inputs of 2..9 tokens: the first ones are accepted (prefetch, open batch, queue), then one finds no room.
        var inputs = Enumerable.Range(2, 8).Select(n => string.Join(' ', Enumerable.Repeat("w", n))).ToArray();
        using (var refused = await client.EmbedAsync(new { input = inputs }).WaitAsync(ServerFactory.Bound))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("queue_full", (await refused.JsonAsync()).GetProperty("code").GetString());
        }

        Assert.True(batcher.Stats.TotalSubmitted > 1, "some of the refused request's inputs were accepted before one found no room");
        model.Open();
        using (var held = await holding.WaitAsync(ServerFactory.Bound))
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        Assert.True(SpinWait.SpinUntil(() => batcher.Stats is { } s && s.TotalCompleted == s.TotalSubmitted, ServerFactory.Bound));
        var stats = batcher.Stats;
        Assert.Equal([1], model.SeenLengths); // the model ran the holding request's input only
        Assert.Equal(stats.TotalSubmitted - 1, stats.TotalCancelled); // the refused request's accepted inputs were withdrawn
    }

    [Fact]
    public async Task A_failing_model_gets_a_problem_details_500()
    {
        ProcessFn<TokenSequence, float[]> broken = (_, _) => throw new InvalidOperationException("out of memory");
        using var factory = new ServerFactory(model: broken);
        using var client = factory.CreateClient();

        using var response = await client.EmbedAsync(new { input = "x" });
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.Equal("model_error", problem.GetProperty("code").GetString());
        Assert.Equal("out of memory", problem.GetProperty("detail").GetString());
    }
}
