using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LowLatencyBatcher.Nats;

/// <summary>The default codec: UTF-8 JSON with System.Text.Json.</summary>
/// <typeparam name="T">The record or result type.</typeparam>
public sealed class JsonBatcherCodec<T> : IBatcherCodec<T>
{
    private readonly JsonTypeInfo<T> _typeInfo;

    /// <summary>Creates a codec with the given serializer options (web defaults when null).</summary>
    /// <param name="options">The serializer options.</param>
    public JsonBatcherCodec(JsonSerializerOptions? options = null)
    {
        options ??= new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.MakeReadOnly(populateMissingResolver: true);
        _typeInfo = (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
    }

    /// <summary>Creates a codec from source-generated type metadata (trimming and AOT friendly).</summary>
    /// <param name="typeInfo">The type's metadata.</param>
    public JsonBatcherCodec(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        _typeInfo = typeInfo;
    }

    /// <inheritdoc />
    public string Name => "json";

    /// <inheritdoc />
    public void Encode(T value, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output);
        JsonSerializer.Serialize(writer, value, _typeInfo);
    }

    /// <inheritdoc />
    public T Decode(ReadOnlySequence<byte> data)
    {
        if (data.IsEmpty)
        {
            throw new FormatException($"Not {typeof(T).Name} in JSON: the message is empty.");
        }

        try
        {
            var reader = new Utf8JsonReader(data);
            return JsonSerializer.Deserialize(ref reader, _typeInfo)
                ?? throw new FormatException($"Not {typeof(T).Name} in JSON: the message is 'null'.");
        }
        catch (JsonException error)
        {
            throw new FormatException($"Not {typeof(T).Name} in JSON: {error.Message}", error);
        }
    }
}
