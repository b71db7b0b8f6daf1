using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// A binary codec for token ids: each id as a 32-bit little-endian integer, nothing else (4 bytes a token, about a
/// third of JSON's size and no parsing).
/// </summary>
public sealed class TokenIdsCodec : IBatcherCodec<int[]>
{
    /// <summary>The shared instance.</summary>
    public static TokenIdsCodec Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "token-ids";

    /// <inheritdoc />
    public void Encode(int[] value, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(value);
        var span = output.GetSpan(value.Length * sizeof(int));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(value.AsSpan()).CopyTo(span);
        }
        else
        {
            for (int i = 0; i < value.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[(i * sizeof(int))..], value[i]);
            }
        }

        output.Advance(value.Length * sizeof(int));
    }

    /// <inheritdoc />
    public int[] Decode(ReadOnlySequence<byte> data)
    {
        if (data.Length % sizeof(int) != 0)
        {
            throw new FormatException(
                $"Not token ids: {data.Length} bytes is not a whole number of 4-byte little-endian integers.");
        }

        var ids = new int[data.Length / sizeof(int)];
        var bytes = MemoryMarshal.AsBytes(ids.AsSpan());
        data.CopyTo(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = BinaryPrimitives.ReverseEndianness(ids[i]);
            }
        }

        return ids;
    }
}
