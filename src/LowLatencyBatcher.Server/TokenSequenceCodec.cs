using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LowLatencyBatcher.Nats;
using LowLatencyBatcher.Torch;

namespace LowLatencyBatcher.Server;

/// <summary>Token sequences on the wire between a gateway and its workers: the <see cref="TokenIdsCodec"/> format (4 bytes a token id).</summary>
internal sealed class TokenSequenceCodec : IBatcherCodec<TokenSequence>
{
    public static TokenSequenceCodec Instance { get; } = new();

    public string Name => TokenIdsCodec.Instance.Name;

    public void Encode(TokenSequence value, IBufferWriter<byte> output)
    {
        var ids = value.Ids.Span;
        var span = output.GetSpan(ids.Length * sizeof(int));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(ids).CopyTo(span);
        }
        else
        {
            for (int i = 0; i < ids.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[(i * sizeof(int))..], ids[i]);
            }
        }

        output.Advance(ids.Length * sizeof(int));
    }

    public TokenSequence Decode(ReadOnlySequence<byte> data) => new(TokenIdsCodec.Instance.Decode(data));
}
