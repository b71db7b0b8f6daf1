using System.Net;
using System.Text.Json;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The API over the real demo encoder (on the CPU), in memory.</summary>
public sealed class EmbeddingsApiTests(EmbeddingsApiTests.Fixture fixture) : IClassFixture<EmbeddingsApiTests.Fixture>
{
    private const string Model = "lowlatencybatcher-demo-encoder";
    private const int Dimensions = 128;

    private readonly HttpClient _client = fixture.Client;

    public sealed class Fixture : IDisposable
    {
        private readonly ServerFactory _factory = new(new Dictionary<string, string?>
        {
            ["Embeddings:MaxInputs"] = "8",
            ["Embeddings:MaxInputTokens"] = "16",
        });

        public Fixture() => Client = _factory.CreateClient();

        public HttpClient Client { get; }

        public void Dispose() => _factory.Dispose();
    }

    [Fact]
    public async Task A_string_input_gets_one_embedding_in_the_OpenAI_shape()
    {
        using var response = await _client.EmbedAsync(new { input = "Hello, world!", model = Model });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonElement body = await response.JsonAsync();
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal(Model, body.GetProperty("model").GetString());
        JsonElement item = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        Assert.Equal(0, item.GetProperty("index").GetInt32());
        float[] embedding = body.Embedding(0);
        Assert.Equal(Dimensions, embedding.Length);
        Assert.All(embedding, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(embedding, v => v != 0);
        // "hello" "," "world" "!"
        Assert.Equal(4, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task An_array_input_gets_one_embedding_per_string_in_order_each_as_if_alone()
    {
        string[] texts = ["the quick brown fox", "jumps", "over the lazy dog again and again"];
        using var response = await _client.EmbedAsync(new { input = texts });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement body = await response.JsonAsync();
        Assert.Equal([0, 1, 2], body.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("index").GetInt32()));
        Assert.Equal(4 + 1 + 7, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        for (int i = 0; i < texts.Length; i++)
        {
            using var alone = await _client.EmbedAsync(new { input = texts[i] });
            float[] expected = (await alone.JsonAsync()).Embedding(0);
            float[] actual = body.Embedding(i);
            Assert.Equal(expected.Length, actual.Length);
            for (int d = 0; d < expected.Length; d++)
            {
                Assert.Equal(expected[d], actual[d], 3); // padding in a batch does not change a sequence's embedding
            }
        }

        Assert.NotEqual(body.Embedding(0), body.Embedding(1));
    }

    [Fact]
    public async Task Base64_encoding_carries_the_same_float32_values()
    {
        using var floats = await _client.EmbedAsync(new { input = "same text" });
        using var base64 = await _client.EmbedAsync(new { input = "same text", encoding_format = "base64" });

        float[] expected = (await floats.JsonAsync()).Embedding(0);
        byte[] bytes = Convert.FromBase64String((await base64.JsonAsync()).GetProperty("data")[0].GetProperty("embedding").GetString()!);
        Assert.Equal(expected, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    [Theory]
    [InlineData("{\"input\":", "invalid_json")]
    [InlineData("", "invalid_json")]
    [InlineData("[\"text\"]", "invalid_request")]
    [InlineData("{\"model\":\"lowlatencybatcher-demo-encoder\"}", "missing_input")]
    [InlineData("{\"model\":\"x\"}", "missing_input")]
    [InlineData("{\"model\":\"x\",\"input\":[1,2]}", "invalid_input")]
    [InlineData("{\"input\":\"\"}", "empty_input")]
    [InlineData("{\"input\":\"   \"}", "empty_input")]
    [InlineData("{\"input\":[]}", "empty_input")]
    [InlineData("{\"input\":[\"ok\",\"\"]}", "empty_input")]
    [InlineData("{\"input\":[1,2,3]}", "invalid_input")]
    [InlineData("{\"input\":42}", "invalid_input")]
    [InlineData("{\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}", "too_many_inputs")]
    [InlineData("{\"input\":\"one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty one twenty two twenty three\"}", "input_too_long")]
    [InlineData("{\"input\":\"x\",\"encoding_format\":\"int8\"}", "invalid_encoding_format")]
    [InlineData("{\"input\":\"x\",\"dimensions\":64}", "invalid_dimensions")]
    public async Task Bad_input_gets_a_problem_details_400(string json, string code)
    {
        using var response = await _client.EmbedRawAsync(json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = await response.JsonAsync();
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task Limits_are_explained_in_the_problem_detail()
    {
        using var tooLong = await _client.EmbedAsync(new { input = new[] { "ok", string.Join(' ', Enumerable.Repeat("word", 40)) } });
        Assert.Equal("input[1] has 40 tokens; the limit is 16.", (await tooLong.JsonAsync()).GetProperty("detail").GetString());

        using var tooMany = await _client.EmbedAsync(new { input = Enumerable.Repeat("x", 9).ToArray() });
        Assert.Equal("The request holds 9 inputs; the limit is 8.", (await tooMany.JsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Another_model_name_gets_a_problem_details_404()
    {
        using var response = await _client.EmbedAsync(new { input = "x", model = "text-embedding-3-small" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await response.JsonAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Healthz_says_healthy_while_the_batcher_runs()
    {
        using var response = await _client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_are_exposed_in_the_Prometheus_text_format()
    {
        using (var embed = await _client.EmbedAsync(new { input = new[] { "metrics one", "metrics two" } }))
        {
            Assert.Equal(HttpStatusCode.OK, embed.StatusCode);
        }

        using var response = await _client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString());
        string text = await response.Content.ReadAsStringAsync();
        foreach (string metric in new[]
        {
            "# TYPE lowlatencybatcher_record_duration_seconds histogram",
            "# TYPE lowlatencybatcher_batch_size histogram",
            "# TYPE lowlatencybatcher_batch_cost histogram",
            "# TYPE lowlatencybatcher_batches_total counter",
            "# TYPE lowlatencybatcher_records_submitted_total counter",
            "# TYPE lowlatencybatcher_records_completed_total counter",
            "# TYPE lowlatencybatcher_queue_depth gauge",
            "# TYPE lowlatencybatcher_utilization gauge",
        })
        {
            Assert.Contains(metric, text);
        }

        Assert.Contains("batcher_name=\"embeddings\"", text);
        // One series: this server's batcher only (MetricsTests pins that), which this class's other tests also fed.
        Assert.True(Assert.Single(Prometheus.SeriesValues(text, "lowlatencybatcher_records_submitted_total")) >= 2);
    }
}
