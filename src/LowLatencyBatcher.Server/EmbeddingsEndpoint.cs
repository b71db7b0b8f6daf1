using System.Text.Json;
using LowLatencyBatcher.Torch;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Server;

/// <summary>
/// <c>POST /v1/embeddings</c> in the OpenAI shape: <c>{"input": "text" | ["text", ...], "model": "...",
/// "encoding_format": "float" | "base64"}</c> in, <c>{"object": "list", "data": [{"object": "embedding", "index": i,
/// "embedding": [...]}], "model": "...", "usage": {"prompt_tokens": n, "total_tokens": n}}</c> out.
/// </summary>
/// <remarks>
/// Every input of a request is offered to the batcher with <see cref="DynamicBatcher{TRecord, TResult}.TrySubmit(TRecord, out ValueTask{TResult}, int?)"/>,
/// which never waits. A request is all or nothing: when one of its inputs finds the queue full (or the batcher
/// stopping), the request gets 503 with <c>Retry-After</c> at once, and the inputs already accepted are cancelled
/// (a record cancelled while it waits never reaches the model) and awaited in the background. A request that was
/// accepted whole always gets its answer.
/// </remarks>
internal static class EmbeddingsEndpoint
{
    public static async Task<IResult> HandleAsync(
        HttpContext context,
        [FromServices] TokenBatcher<TokenSequence, float[]> batcher,
        [FromServices] IInputTokenizer tokenizer,
        [FromServices] IOptions<EmbeddingsServerOptions> serverOptions,
        [FromServices] ModelInfo model)
    {
        EmbeddingsServerOptions options = serverOptions.Value;
        if (context.Request.ContentLength > options.MaxRequestBodyBytes)
        {
            return TooLarge(options);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.MaxRequestBodyBytes;
        }

        ParsedRequest request;
        try
        {
            using JsonDocument document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            if (!TryParse(document.RootElement, options, model, out request, out IResult? problem))
            {
                return problem;
            }
        }
        catch (JsonException error)
        {
            return BadRequest("invalid_json", "The request body is not valid JSON.", error.Message);
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(options);
        }

        var sequences = new TokenSequence[request.Inputs.Length];
        long tokens = 0;
        for (int i = 0; i < sequences.Length; i++)
        {
            // A model with special tokens gives an all-space text a few ids; it is refused all the same.
            int[] ids = string.IsNullOrWhiteSpace(request.Inputs[i]) ? [] : tokenizer.Encode(request.Inputs[i]);
            if (ids.Length == 0)
            {
                return BadRequest("empty_input", "An input is empty.", $"input[{i}] has no tokens.", "input");
            }

            if (ids.Length > options.MaxInputTokens)
            {
                return BadRequest(
                    "input_too_long",
                    "An input is too long.",
                    $"input[{i}] has {ids.Length} tokens; the limit is {options.MaxInputTokens}.",
                    "input");
            }

            sequences[i] = ids;
            tokens += ids.Length;
        }

        var pending = new ValueTask<float[]>[sequences.Length];
        int accepted = 0;

        // Withdraws the inputs already accepted if a later one is refused (one input has nothing to withdraw).
        CancellationTokenSource? admission = sequences.Length > 1 ? new CancellationTokenSource() : null;
        try
        {
            while (accepted < sequences.Length
                && batcher.TrySubmit(sequences[accepted], default(SubmitOptions), out pending[accepted], admission?.Token ?? default))
            {
                accepted++;
            }
        }
        catch (InvalidOperationException)
        {
            // The batcher is stopping (the host is shutting down): treated like a full queue.
        }

        if (accepted < sequences.Length)
        {
            admission?.Cancel();
            _ = DrainAsync(pending, accepted, admission);
            return Unavailable(context, options, "queue_full", "The server is at capacity.", "The batcher's queue is full or the server is stopping; retry later.");
        }

        var embeddings = new float[sequences.Length][];
        Exception? failure = null;
        for (int i = 0; i < pending.Length; i++)
        {
            try
            {
                embeddings[i] = await pending[i];
            }
            catch (Exception error)
            {
                failure ??= error; // keep awaiting: each accepted record's task is awaited exactly once
            }
        }

        admission?.Dispose();

        return failure switch
        {
            null => new EmbeddingsResult(embeddings, model.Name, tokens, request.Base64),
            OperationCanceledException => Unavailable(context, options, "shutting_down", "The server is stopping.", "The request could not finish before shutdown."),
            _ => Results.Problem(
                title: "The model failed.",
                detail: failure.Message,
                statusCode: StatusCodes.Status500InternalServerError,
                extensions: new Dictionary<string, object?> { ["code"] = "model_error" }),
        };
    }

    /// <summary>
    /// Checks the request's shape, then the model it names; on failure, <paramref name="problem"/> is the 400 (or,
    /// for a well-formed request naming another model, the 404) to answer.
    /// </summary>
    internal static bool TryParse(
        JsonElement root, EmbeddingsServerOptions options, ModelInfo model, out ParsedRequest request, out IResult problem)
    {
        request = default;
        problem = null!;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problem = BadRequest("invalid_request", "The request body must be a JSON object.", $"Got a JSON {root.ValueKind.ToString().ToLowerInvariant()}.");
            return false;
        }

        if (root.TryGetProperty("model", out JsonElement modelName) && modelName.ValueKind is not (JsonValueKind.Null or JsonValueKind.String))
        {
            problem = BadRequest("invalid_model", "'model' must be a string.", null, "model");
            return false;
        }

        bool base64 = false;
        if (root.TryGetProperty("encoding_format", out JsonElement format) && format.ValueKind != JsonValueKind.Null)
        {
            string? value = format.ValueKind == JsonValueKind.String ? format.GetString() : null;
            if (value is not ("float" or "base64"))
            {
                problem = BadRequest("invalid_encoding_format", "'encoding_format' must be \"float\" or \"base64\".", null, "encoding_format");
                return false;
            }

            base64 = value == "base64";
        }

        if (root.TryGetProperty("dimensions", out JsonElement dimensions) && dimensions.ValueKind != JsonValueKind.Null
            && !(dimensions.TryGetInt32(out int asked) && asked == model.Dimensions))
        {
            problem = BadRequest("invalid_dimensions", "'dimensions' is not supported.", $"The model's embeddings have {model.Dimensions} dimensions.", "dimensions");
            return false;
        }

        if (!root.TryGetProperty("input", out JsonElement input) || input.ValueKind == JsonValueKind.Null)
        {
            problem = BadRequest("missing_input", "'input' is required.", "Send a string or an array of strings.", "input");
            return false;
        }

        string[] inputs;
        if (input.ValueKind == JsonValueKind.String)
        {
            inputs = [input.GetString()!];
        }
        else if (input.ValueKind == JsonValueKind.Array)
        {
            int count = input.GetArrayLength();
            if (count == 0)
            {
                problem = BadRequest("empty_input", "'input' is empty.", "Send at least one string.", "input");
                return false;
            }

            if (count > options.MaxInputs)
            {
                problem = BadRequest("too_many_inputs", "Too many inputs.", $"The request holds {count} inputs; the limit is {options.MaxInputs}.", "input");
                return false;
            }

            inputs = new string[count];
            int i = 0;
            foreach (JsonElement item in input.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    problem = BadRequest("invalid_input", "'input' must be a string or an array of strings.", $"input[{i}] is a JSON {item.ValueKind.ToString().ToLowerInvariant()} (token-id inputs are not supported).", "input");
                    return false;
                }

                inputs[i++] = item.GetString()!;
            }
        }
        else
        {
            problem = BadRequest("invalid_input", "'input' must be a string or an array of strings.", $"Got a JSON {input.ValueKind.ToString().ToLowerInvariant()}.", "input");
            return false;
        }

        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].Length == 0)
            {
                problem = BadRequest("empty_input", "An input is empty.", $"input[{i}] is an empty string.", "input");
                return false;
            }
        }

        // The request's shape is checked first: a malformed request is a 400 whichever model it names.
        if (modelName.ValueKind == JsonValueKind.String && !model.Answers(modelName.GetString()!))
        {
            problem = Results.Problem(
                title: "The model does not exist.",
                detail: $"This server serves '{model.Name}'.",
                statusCode: StatusCodes.Status404NotFound,
                extensions: new Dictionary<string, object?> { ["code"] = "model_not_found", ["param"] = "model" });
            return false;
        }

        request = new ParsedRequest(inputs, base64);
        return true;
    }

    private static async Task DrainAsync(ValueTask<float[]>[] pending, int count, CancellationTokenSource? admission)
    {
        for (int i = 0; i < count; i++)
        {
            try
            {
                await pending[i];
            }
            catch (Exception)
            {
                // The request was already answered with 503; only the record's completion is returned to the pool.
            }
        }

        admission?.Dispose();
    }

    private static IResult BadRequest(string code, string title, string? detail, string? param = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (param is not null)
        {
            extensions["param"] = param;
        }

        return Results.Problem(title: title, detail: detail, statusCode: StatusCodes.Status400BadRequest, extensions: extensions);
    }

    private static IResult TooLarge(EmbeddingsServerOptions options) => Results.Problem(
        title: "The request body is too large.",
        detail: $"The limit is {options.MaxRequestBodyBytes} bytes.",
        statusCode: StatusCodes.Status413PayloadTooLarge,
        extensions: new Dictionary<string, object?> { ["code"] = "request_too_large" });

    private static IResult Unavailable(HttpContext context, EmbeddingsServerOptions options, string code, string title, string detail)
    {
        context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Problem(
            title: title,
            detail: detail,
            statusCode: StatusCodes.Status503ServiceUnavailable,
            extensions: new Dictionary<string, object?> { ["code"] = code });
    }
}

/// <summary>A request that passed the shape checks.</summary>
internal readonly record struct ParsedRequest(string[] Inputs, bool Base64);
