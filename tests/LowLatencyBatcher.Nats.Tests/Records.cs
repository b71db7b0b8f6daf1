using LowLatencyBatcher.Nats.TestWorker;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Test records (token ids) and their expected results.</summary>
internal static class Records
{
    /// <summary>Every wait in these tests is bounded by this; none should come close.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    /// <summary>Record <paramref name="i"/>: 1 to 16 token ids that depend on <paramref name="i"/>.</summary>
    public static int[] Make(long i)
    {
        int length = (int)(i % 16) + 1;
        var tokens = new int[length];
        for (int t = 0; t < length; t++)
        {
            tokens[t] = (int)((i * 31 + t * 7) % 50_000);
        }

        return tokens;
    }

    /// <summary>The result the test worker must give record <paramref name="i"/>.</summary>
    public static long Expected(long i) => Checksum.Of(Make(i));

    /// <summary>A unique service name, so tests sharing a server do not see each other's records.</summary>
    public static string Service(string test) => $"{test}-{Guid.NewGuid():N}"[..(test.Length + 13)];

    /// <summary>A client for the test worker's types.</summary>
    public static BatcherClient<int[], long> Client(string url, string service, Action<BatcherClientOptions>? configure = null)
    {
        var options = new BatcherClientOptions { Url = url, Service = service };
        configure?.Invoke(options);
        return new BatcherClient<int[], long>(options, TokenIdsCodec.Instance);
    }
}
