using System.Net;
using System.Numerics.Tensors;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>The server end to end with the real all-MiniLM-L6-v2 model, through HTTP, on both backends.</summary>
public sealed class RealModelTests(RealModelServers servers) : IClassFixture<RealModelServers>
{
    private static double Cosine(float[] a, float[] b) => TensorPrimitives.CosineSimilarity(a, b);

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task A_paraphrase_comes_back_closer_than_an_unrelated_sentence(string backend)
    {
        using var response = await servers.Client(backend).EmbedAsync(new
        {
            input = new[] { "A cat sits on the mat.", "A kitten is resting on a rug.", "The stock market fell sharply today." },
            model = "all-MiniLM-L6-v2",
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal("all-MiniLM-L6-v2", body.GetProperty("model").GetString());
        float[] cat = body.Embedding(0), kitten = body.Embedding(1), market = body.Embedding(2);
        Assert.Equal(384, cat.Length);
        Assert.Equal(0.655, Cosine(cat, kitten), 0.005);
        Assert.Equal(0.091, Cosine(cat, market), 0.005);
        Assert.True(Cosine(cat, kitten) > Cosine(cat, market));
    }

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task Usage_counts_the_real_tokens_and_accented_text_is_understood(string backend)
    {
        // [CLS] a cat sits on the mat . [SEP] = 9; "Café" lower-cases and loses its accent like "cafe".
        using var response = await servers.Client(backend).EmbedAsync(new { input = new[] { "A cat sits on the mat.", "Café", "cafe" } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(9 + 3 + 3, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(1.0, Cosine(body.Embedding(1), body.Embedding(2)), 1e-5);
    }

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task The_model_list_names_the_real_model_and_its_backend(string backend)
    {
        using var response = await servers.Client(backend).GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var model = Assert.Single((await response.JsonAsync()).GetProperty("data").EnumerateArray());
        Assert.Equal("all-MiniLM-L6-v2", model.GetProperty("id").GetString());
        Assert.Equal(384, model.GetProperty("dimensions").GetInt32());
        Assert.Equal(backend, model.GetProperty("backend").GetString());
    }

    [Fact]
    public async Task A_text_over_the_model_positions_gets_400_naming_its_token_count()
    {
        string text = string.Join(' ', Enumerable.Repeat("word", 600)); // 602 tokens with [CLS] and [SEP]
        using var response = await servers.Client("onnx").EmbedAsync(new { input = new[] { "fine", text } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.Equal("input_too_long", problem.GetProperty("code").GetString());
        Assert.Contains("input[1] has 602 tokens; the limit is 512", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_all_space_input_is_refused_though_the_tokenizer_would_give_it_special_tokens()
    {
        using var response = await servers.Client("torch").EmbedAsync(new { input = new[] { "fine", "   " } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.Equal("empty_input", problem.GetProperty("code").GetString());
        Assert.Contains("input[1]", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_for_the_demo_model_gets_404_from_the_real_model_server()
    {
        using var response = await servers.Client("torch").EmbedAsync(new { input = "x", model = "lowlatencybatcher-demo-encoder" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await response.JsonAsync()).GetProperty("code").GetString());
    }
}
