using System.Buffers;
using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// A binary codec for vectors (embeddings): each value as a 32-bit little-endian IEEE float, nothing else.
/// </summary>
public sealed class Float32ArrayCodec : IBatcherCodec<float[]>
{
    /// <summary>The shared instance.</summary>
    public static Float32ArrayCodec Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "float32";

    /// <inheritdoc />
    public void Encode(float[] value, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(value);
        LittleEndianWords.Write(MemoryMarshal.Cast<float, int>(value.AsSpan()), output);
    }

    /// <inheritdoc />
    public float[] Decode(ReadOnlySequence<byte> data) => LittleEndianWords.Read<float>(data, "a float32 vector (4-byte floats)");
}
