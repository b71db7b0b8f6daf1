using System.Buffers;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// Turns records or results into bytes on the wire and back. The worker and its clients must use the same codec for
/// the same type.
/// </summary>
/// <typeparam name="T">The record or result type.</typeparam>
public interface IBatcherCodec<T>
{
    /// <summary>A short name of the encoding (for example <c>json</c>), used in error messages.</summary>
    string Name { get; }

    /// <summary>Writes <paramref name="value"/> to <paramref name="output"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="output">Where the bytes go.</param>
    void Encode(T value, IBufferWriter<byte> output);

    /// <summary>Reads a value from <paramref name="data"/>.</summary>
    /// <param name="data">The bytes of one message.</param>
    /// <returns>The value.</returns>
    /// <exception cref="FormatException">The bytes are not a value of this encoding; the message says why.</exception>
    T Decode(ReadOnlySequence<byte> data);
}
