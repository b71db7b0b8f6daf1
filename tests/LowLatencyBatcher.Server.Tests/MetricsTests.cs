using System.Net;

namespace LowLatencyBatcher.Server.Tests;

/// <summary>What <c>GET /metrics</c> shows when several servers share one process (as the tests' servers do).</summary>
public sealed class MetricsTests
{
    private const string Submitted = "lowlatencybatcher_records_submitted_total";

    [Fact]
    public async Task Each_server_in_a_process_exports_only_its_own_batcher()
    {
        using var first = new ServerFactory();
        using var second = new ServerFactory();
        using HttpClient firstClient = first.CreateClient();
        using HttpClient secondClient = second.CreateClient();

        await EmbedAsync(firstClient, 2);
        await EmbedAsync(secondClient, 5);

        // Both batchers are named "embeddings": without scoping, one exporter would merge the two into one series.
        long[] firstSeries = await SubmittedSeriesAsync(firstClient);
        long[] secondSeries = await SubmittedSeriesAsync(secondClient);
        Assert.Equal(new[] { 2L }, firstSeries);
        Assert.Equal(new[] { 5L }, secondSeries);
    }

    private static async Task EmbedAsync(HttpClient client, int inputs)
    {
        using var response = await client.EmbedAsync(new { input = Enumerable.Range(0, inputs).Select(i => $"record {i}").ToArray() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task<long[]> SubmittedSeriesAsync(HttpClient client) =>
        Prometheus.SeriesValues(await client.GetStringAsync("/metrics"), Submitted);
}
