using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Tests.Fakes;

namespace LowLatencyBatcher.Torch.Tests;

/// <summary>
/// Checks the runner's stream discipline against a recording fake of the stream seam: every copy is ordered
/// after the previous computation that read its device buffer, every computation after its own copy, and no
/// staging buffer is rewritten before the event that marks its previous copy.
/// </summary>
public class PipelineOrderingTests
{
    private static TokenBatchRunner CreateRunner(RecordingStreamBackend backend, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> model) =>
        new(model, new TokenBatchRunnerOptions { StreamBackend = backend, Observer = backend, MaxBatchSize = 8, InitialSequenceLength = 4 });

    private static TokenSequence[] Batch(int records, int length, int value) =>
        Enumerable.Range(0, records).Select(_ => new TokenSequence(Enumerable.Repeat(value, length).ToArray())).ToArray();

    [Fact]
    public async Task CopiesComputationsAndStagingReuseFollowTheEventOrder()
    {
        using var backend = new RecordingStreamBackend();
        using var model = new MaskedSumModule();
        const int batches = 9;
        using (var runner = CreateRunner(backend, model))
        {
            // Varied lengths, including ones that make the slots grow, all in flight at once.
            var tasks = Enumerable.Range(0, batches)
                .Select(k => runner.ProcessAsync(Batch(1 + k % 3, 1 + 3 * k, k + 1)).AsTask())
                .ToArray();
            IReadOnlyList<float[]>[] results = await Task.WhenAll(tasks);
            for (int k = 0; k < batches; k++)
            {
                Assert.All(results[k], row => Assert.Equal((k + 1) * (1 + 3 * k), row[0]));
            }
        }

        IReadOnlyList<Op> log = backend.Log;
        int IndexOf(Func<Op, bool> match, int from = 0)
        {
            for (int i = from; i < log.Count; i++)
            {
                if (match(log[i]))
                {
                    return i;
                }
            }
            return -1;
        }

        int LastBefore(int end, Func<Op, bool> match)
        {
            for (int i = end - 1; i >= 0; i--)
            {
                if (match(log[i]))
                {
                    return i;
                }
            }
            return -1;
        }

        for (int k = 0; k < batches; k++)
        {
            int slot = k % 2;
            int earlierOnSlot = k / 2;
            string copyDone = $"copy-done[{slot}]";
            string computeDone = $"compute-done[{slot}]";

            int pack = IndexOf(op => op.Kind == "pack" && op.Batch == k);
            Assert.True(pack >= 0, $"batch {k} was never packed");
            Assert.Equal(slot, log[pack].Slot);

            // Staging reuse: the host waited for the slot's latest copy (the one of batch k-2) before packing.
            int sync = LastBefore(pack, op => op.Kind == "sync" && op.Event == copyDone);
            Assert.True(sync >= 0, $"batch {k}: no host wait on {copyDone} before packing");
            Assert.Equal(earlierOnSlot, log[sync].Generation);
            if (k >= 2)
            {
                Assert.True(IndexOf(op => op.Kind == "copy" && op.Batch == k - 2) < sync);
            }

            // Device buffer reuse: the copy stream waits for the computation of batch k-2 before copying.
            int copy = IndexOf(op => op.Kind == "copy" && op.Batch == k);
            Assert.True(copy > pack, $"batch {k}: copy before pack");
            Assert.Equal("copy", log[copy].Stream);
            int waitCompute = LastBefore(copy, op => op.Kind == "wait" && op.Stream == "copy" && op.Event == computeDone);
            Assert.True(waitCompute > pack, $"batch {k}: the copy stream did not wait on {computeDone}");
            Assert.Equal(earlierOnSlot, log[waitCompute].Generation);
            if (k >= 2)
            {
                Assert.True(IndexOf(op => op.Kind == "compute-end" && op.Batch == k - 2) < waitCompute);
            }

            // The copy is marked done on the copy stream right after it is issued.
            int recordCopy = IndexOf(op => op.Kind == "record" && op.Event == copyDone, copy);
            Assert.Equal("copy", log[recordCopy].Stream);
            Assert.Equal(earlierOnSlot + 1, log[recordCopy].Generation);

            // The computation waits on the compute stream for exactly that copy.
            int computeBegin = IndexOf(op => op.Kind == "compute-begin" && op.Batch == k);
            int waitCopy = LastBefore(computeBegin, op => op.Kind == "wait" && op.Event == copyDone);
            Assert.True(waitCopy > recordCopy, $"batch {k}: computation not ordered after its copy");
            Assert.Equal("compute", log[waitCopy].Stream);
            Assert.Equal(earlierOnSlot + 1, log[waitCopy].Generation);

            // And the computation is marked done on the compute stream once issued.
            int computeEnd = IndexOf(op => op.Kind == "compute-end" && op.Batch == k);
            int recordCompute = IndexOf(op => op.Kind == "record" && op.Event == computeDone, computeEnd);
            Assert.Equal("compute", log[recordCompute].Stream);
            Assert.Equal(earlierOnSlot + 1, log[recordCompute].Generation);
        }
    }

    [Fact]
    public async Task TheNextBatchIsPackedAndCopiedWhileTheCurrentOneComputes()
    {
        using var backend = new RecordingStreamBackend();
        using var model = new MaskedSumModule();
        bool overlapped = false;
        backend.BeforeCompute = batch =>
        {
            // Hold batch 0's computation until batch 1 has been packed and copied: this only finishes if the
            // pipeline prefetches. The bound keeps a broken pipeline from hanging the test.
            if (batch == 0)
            {
                overlapped = SpinWait.SpinUntil(() => backend.Contains(op => op.Kind == "copy" && op.Batch == 1), TimeSpan.FromSeconds(30));
            }
        };

        using (var runner = CreateRunner(backend, model))
        {
            var first = runner.ProcessAsync(Batch(2, 3, 1)).AsTask();
            var second = runner.ProcessAsync(Batch(2, 5, 2)).AsTask();
            await Task.WhenAll(first, second);
        }

        Assert.True(overlapped, "batch 1 was not copied while batch 0 was computing");
        IReadOnlyList<Op> log = backend.Log;
        int copy1 = log.ToList().FindIndex(op => op.Kind == "copy" && op.Batch == 1);
        int end0 = log.ToList().FindIndex(op => op.Kind == "compute-end" && op.Batch == 0);
        Assert.True(copy1 < end0);
    }
}
