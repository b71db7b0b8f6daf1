using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Tests.Fakes;

namespace LowLatencyBatcher.Torch.Tests;

/// <summary>How the runner uses the seam's memory, events and teardown, checked against the recording fake.</summary>
public class RunnerCleanupTests
{
    private static readonly MaskedSumModule Model = new();

    private static TokenBatchRunner CreateRunner(RecordingStreamBackend backend) =>
        new(Model, new TokenBatchRunnerOptions { StreamBackend = backend, Observer = backend, MaxBatchSize = 4, InitialSequenceLength = 2 });

    [Fact]
    public async Task AfterADeviceErrorDisposeStillReleasesEverythingAndReportsTheFirstError()
    {
        using var backend = new RecordingStreamBackend();
        var runner = CreateRunner(backend);
        await runner.ProcessAsync([new TokenSequence(new[] { 1, 2, 3 })]);

        // A sticky device error: every later device call fails, the first of them the stream synchronisation.
        var sticky = new InvalidOperationException("cudaStreamSynchronize failed with CUDA error 710");
        backend.Fault = op => op switch
        {
            { Kind: "stream-sync" } => sticky,
            { Kind: "dispose", Event: "copy-done[0]" } => new InvalidOperationException("cudaEventDestroy failed with CUDA error 710"),
            _ => null,
        };

        var thrown = Assert.Throws<InvalidOperationException>(runner.Dispose);

        Assert.Same(sticky, thrown);
        IReadOnlyList<Op> log = backend.Log;
        string[] disposedEvents = [.. log.Where(op => op.Kind == "dispose" && op.Event != "").Select(op => op.Event).Order(StringComparer.Ordinal)];
        string[] disposedStreams = [.. log.Where(op => op.Kind == "dispose" && op.Stream != "").Select(op => op.Stream).Order(StringComparer.Ordinal)];
        Assert.Equal(["compute-done[0]", "compute-done[1]", "copy-done[0]", "copy-done[1]"], disposedEvents);
        Assert.Equal(["compute", "copy"], disposedStreams);
        Assert.Equal(2, log.Count(op => op.Kind == "stream-sync"));
        // Disposing again does nothing and throws nothing.
        runner.Dispose();
    }

    [Fact]
    public async Task DeviceBuffersAreAllocatedOnTheCopyStreamAlsoWhenTheyGrow()
    {
        using var backend = new RecordingStreamBackend();
        using (var runner = CreateRunner(backend))
        {
            await runner.ProcessAsync([new TokenSequence(Enumerable.Range(1, 40).ToArray())]);
            await runner.ProcessAsync([new TokenSequence(Enumerable.Range(1, 40).ToArray())]);
            Assert.Equal(2, runner.BufferReallocations);
        }

        Op[] allocations = [.. backend.Log.Where(op => op.Kind == "alloc-device")];
        Assert.Equal(4, allocations.Length);
        Assert.All(allocations, op => Assert.Equal("copy", op.Stream));
    }

    [Fact]
    public void CopyEventsSpinAndComputeEventsSleepOnTheHost()
    {
        using var backend = new RecordingStreamBackend();
        using (CreateRunner(backend))
        {
        }

        IReadOnlyDictionary<string, DeviceEventWait> waits = backend.EventWaits;
        Assert.Equal(DeviceEventWait.Spin, waits["copy-done[0]"]);
        Assert.Equal(DeviceEventWait.Spin, waits["copy-done[1]"]);
        Assert.Equal(DeviceEventWait.Block, waits["compute-done[0]"]);
        Assert.Equal(DeviceEventWait.Block, waits["compute-done[1]"]);
    }
}
