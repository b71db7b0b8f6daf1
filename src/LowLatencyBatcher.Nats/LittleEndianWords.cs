using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LowLatencyBatcher.Nats;

/// <summary>The wire form of the binary codecs: 32-bit words, little-endian, nothing else.</summary>
internal static class LittleEndianWords
{
    /// <summary>Writes <paramref name="words"/> to <paramref name="output"/>, 4 bytes each.</summary>
    public static void Write(ReadOnlySpan<int> words, IBufferWriter<byte> output)
    {
        int bytes = words.Length * sizeof(int);
        var span = output.GetSpan(bytes);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(words).CopyTo(span);
        }
        else
        {
            for (int i = 0; i < words.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[(i * sizeof(int))..], words[i]);
            }
        }

        output.Advance(bytes);
    }

    /// <summary>Reads <paramref name="data"/> as words.</summary>
    /// <exception cref="FormatException">The length is not a multiple of 4; the message says so, naming <paramref name="what"/>.</exception>
    public static T[] Read<T>(ReadOnlySequence<byte> data, string what)
        where T : unmanaged
    {
        if (data.Length % sizeof(int) != 0)
        {
            throw new FormatException($"Not {what}: {data.Length} bytes is not a whole number of 4-byte little-endian words.");
        }

        var values = new T[data.Length / sizeof(int)];
        var words = MemoryMarshal.Cast<T, int>(values.AsSpan());
        data.CopyTo(MemoryMarshal.AsBytes(words));
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < words.Length; i++)
            {
                words[i] = BinaryPrimitives.ReverseEndianness(words[i]);
            }
        }

        return values;
    }
}
