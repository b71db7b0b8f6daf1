using System.Runtime.InteropServices;
using System.Text.Json;

namespace LowLatencyBatcher.Server;

/// <summary>Writes the OpenAI embeddings response straight to the response body, flushing as it goes.</summary>
internal sealed class EmbeddingsResult(float[][] embeddings, string model, long tokens, bool base64) : IResult
{
    private const int FlushThreshold = 32 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        HttpResponse response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(response.BodyWriter);

        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        for (int i = 0; i < embeddings.Length; i++)
        {
            json.WriteStartObject();
            json.WriteString("object", "embedding");
            json.WriteNumber("index", i);
            if (base64)
            {
                // OpenAI's base64 format: the little-endian float32 values, base64-encoded.
                json.WriteBase64String("embedding", MemoryMarshal.AsBytes(embeddings[i].AsSpan()));
            }
            else
            {
                json.WriteStartArray("embedding");
                foreach (float value in embeddings[i])
                {
                    json.WriteNumberValue(value);
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
            if (json.BytesPending > FlushThreshold)
            {
                json.Flush(); // commits the bytes to the pipe; the pipe's flush sends them
                await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
            }
        }

        json.WriteEndArray();
        json.WriteString("model", model);
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", tokens);
        json.WriteNumber("total_tokens", tokens);
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();
        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }
}
