using System.Buffers;
using System.Buffers.Binary;
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
        var span = output.GetSpan(value.Length * sizeof(float));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(value.AsSpan()).CopyTo(span);
        }
        else
        {
            for (int i = 0; i < value.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(span[(i * sizeof(float))..], value[i]);
            }
        }

        output.Advance(value.Length * sizeof(float));
    }

    /// <inheritdoc />
    public float[] Decode(ReadOnlySequence<byte> data)
    {
        if (data.Length % sizeof(float) != 0)
        {
            throw new FormatException(
                $"Not a float32 vector: {data.Length} bytes is not a whole number of 4-byte little-endian floats.");
        }

        var values = new float[data.Length / sizeof(float)];
        data.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<float, int>(values.AsSpan());
            for (int i = 0; i < ints.Length; i++)
            {
                ints[i] = BinaryPrimitives.ReverseEndianness(ints[i]);
            }
        }

        return values;
    }
}
