using System.Buffers;
using NATS.Client.Core;

namespace LowLatencyBatcher.Nats;

/// <summary>Lets NATS.Net write a value with a batcher codec, straight into its buffer.</summary>
/// <typeparam name="T">The value type.</typeparam>
internal sealed class CodecSerializer<T>(IBatcherCodec<T> codec) : INatsSerialize<T>
{
    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> bufferWriter, T value) => codec.Encode(value, bufferWriter);
}
