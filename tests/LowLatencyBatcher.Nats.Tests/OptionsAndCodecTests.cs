using System.Buffers;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Option rules and codecs (no server needed).</summary>
public sealed class OptionsAndCodecTests
{
    [Theory]
    [InlineData("Url", "http://localhost:4222", "Url 'http://localhost:4222' must be an absolute nats://")]
    [InlineData("Url", "", "Url is required")]
    [InlineData("Service", "has space", "Service must be 1 to 64 letters")]
    [InlineData("SubjectPrefix", "a.b", "SubjectPrefix must be 1 to 64 letters")]
    [InlineData("MaxInFlight", "0", "MaxInFlight must be between 1 and 1000000; it is 0")]
    [InlineData("FetchBatch", "20000", "FetchBatch must be between 1 and 10000")]
    [InlineData("AckWait", "00:00:00.5", "AckWait must be between 00:00:01 and 12:00:00")]
    [InlineData("MaxDeliver", "1", "MaxDeliver must be between 2 and 1000")]
    [InlineData("FetchExpiry", "00:00:00.1", "FetchExpiry must be between 00:00:01")]
    public void A_bad_worker_option_is_refused_with_a_message_naming_it(string field, string value, string expected)
    {
        var options = new BatcherWorkerOptions();
        var property = typeof(BatcherWorkerOptions).GetProperty(field)!;
        object converted = property.PropertyType == typeof(TimeSpan) ? TimeSpan.Parse(value)
            : property.PropertyType == typeof(int) ? int.Parse(value)
            : value;
        property.SetValue(options, converted);

        var error = Assert.Throws<ArgumentException>(() => options.EnsureValid());
        Assert.Contains(expected, error.Message);
        Assert.StartsWith("BatcherWorkerOptions: ", error.Message);
    }

    [Fact]
    public void A_worker_with_neither_path_is_refused()
    {
        var options = new BatcherWorkerOptions { Online = false, Durable = false };
        Assert.Contains("Online and Durable are both false", Assert.Single(options.Validate()));
    }

    [Fact]
    public void Bad_client_options_are_refused_with_messages_naming_them()
    {
        var options = new BatcherClientOptions
        {
            MaxRetries = -1,
            RetryDelay = TimeSpan.FromSeconds(2),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
            MaxPendingPublishes = 0,
            Timeout = TimeSpan.Zero,
        };
        var errors = options.Validate();
        Assert.Contains(errors, e => e.StartsWith("MaxRetries must be between 0 and 1000; it is -1"));
        Assert.Contains(errors, e => e.StartsWith("MaxRetryDelay (00:00:01) must not be shorter than RetryDelay (00:00:02)"));
        Assert.Contains(errors, e => e.StartsWith("MaxPendingPublishes must be between 1 and 100000"));
        Assert.Contains(errors, e => e.StartsWith("Timeout must be between"));
        Assert.Throws<ArgumentException>(() => new BatcherClient<int[], long>(options));
    }

    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(new BatcherWorkerOptions().Validate());
        Assert.Empty(new BatcherClientOptions().Validate());
        Assert.Empty(new BatcherClientOptions { Url = "nats://a:4222, nats://b:4222" }.Validate());
    }

    [Fact]
    public void Token_ids_round_trip_in_four_bytes_each_and_a_ragged_payload_is_refused()
    {
        int[] tokens = [0, 1, -1, int.MaxValue, int.MinValue, 50_256];
        var buffer = new ArrayBufferWriter<byte>();
        TokenIdsCodec.Instance.Encode(tokens, buffer);
        Assert.Equal(tokens.Length * 4, buffer.WrittenCount);
        Assert.Equal(tokens, TokenIdsCodec.Instance.Decode(new ReadOnlySequence<byte>(buffer.WrittenMemory)));
        Assert.Empty(TokenIdsCodec.Instance.Decode(ReadOnlySequence<byte>.Empty));

        var error = Assert.Throws<FormatException>(() => TokenIdsCodec.Instance.Decode(new ReadOnlySequence<byte>(new byte[7])));
        Assert.Contains("7 bytes", error.Message);
    }

    [Fact]
    public void Float_vectors_round_trip_exactly()
    {
        float[] vector = [0f, -0f, 1.5f, float.Epsilon, float.MaxValue, float.NaN];
        var buffer = new ArrayBufferWriter<byte>();
        Float32ArrayCodec.Instance.Encode(vector, buffer);
        Assert.Equal(vector, Float32ArrayCodec.Instance.Decode(new ReadOnlySequence<byte>(buffer.WrittenMemory)));
        Assert.Throws<FormatException>(() => Float32ArrayCodec.Instance.Decode(new ReadOnlySequence<byte>(new byte[3])));
    }

    [Fact]
    public void Json_round_trips_and_refuses_what_is_not_the_type()
    {
        var codec = new JsonBatcherCodec<Sample>();
        var buffer = new ArrayBufferWriter<byte>();
        codec.Encode(new Sample("hello", [1, 2]), buffer);
        var back = codec.Decode(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal("hello", back.Text);
        Assert.Equal([1, 2], back.Ids);

        Assert.Contains("Not Sample in JSON", Assert.Throws<FormatException>(() => codec.Decode(new ReadOnlySequence<byte>("{\"text\": 5"u8.ToArray()))).Message);
        Assert.Contains("empty", Assert.Throws<FormatException>(() => codec.Decode(ReadOnlySequence<byte>.Empty)).Message);
        Assert.Contains("'null'", Assert.Throws<FormatException>(() => codec.Decode(new ReadOnlySequence<byte>("null"u8.ToArray()))).Message);
    }

    /// <summary>A JSON test record.</summary>
    public sealed record Sample(string Text, int[] Ids);
}
