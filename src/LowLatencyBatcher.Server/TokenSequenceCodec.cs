using System.Buffers;
using LowLatencyBatcher.Nats;
using LowLatencyBatcher.Torch;

namespace LowLatencyBatcher.Server;

/// <summary>Token sequences on the wire between a gateway and its workers: the <see cref="TokenIdsCodec"/> form (4 bytes a token id).</summary>
internal sealed class TokenSequenceCodec : IBatcherCodec<TokenSequence>
{
    public static TokenSequenceCodec Instance { get; } = new();

    public string Name => TokenIdsCodec.Instance.Name;

    public void Encode(TokenSequence value, IBufferWriter<byte> output) => TokenIdsCodec.Write(value.Ids.Span, output);

    public TokenSequence Decode(ReadOnlySequence<byte> data) => new(TokenIdsCodec.Instance.Decode(data));
}
