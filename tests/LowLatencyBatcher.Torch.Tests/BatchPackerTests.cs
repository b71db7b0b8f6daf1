using LowLatencyBatcher.Torch.Runner;

namespace LowLatencyBatcher.Torch.Tests;

public class BatchPackerTests
{
    [Fact]
    public void PacksLengthsThenPaddedRows()
    {
        TokenSequence[] batch = [new[] { 5, 6, 7 }, new[] { 9 }, Array.Empty<int>()];
        int length = BatchPacker.PaddedLength(batch);
        var buffer = new long[BatchPacker.PackedElements(batch.Length, length) + 4];
        buffer.AsSpan().Fill(-7);

        int[] lengths = BatchPacker.Pack(batch, length, paddingId: 0, buffer);

        Assert.Equal(3, length);
        Assert.Equal([3, 1, 0], lengths);
        Assert.Equal(new long[] { 3, 1, 0, 5, 6, 7, 9, 0, 0, 0, 0, 0, -7, -7, -7, -7 }, buffer);
    }

    [Fact]
    public void PaddedLengthIsAtLeastOne()
    {
        TokenSequence[] batch = [Array.Empty<int>(), Array.Empty<int>()];
        Assert.Equal(1, BatchPacker.PaddedLength(batch));
    }

    [Fact]
    public void UsesThePaddingIdAndOverwritesStaleContent()
    {
        TokenSequence[] batch = [new[] { 1 }, new[] { 2, 3 }];
        var buffer = new long[6];
        buffer.AsSpan().Fill(99);

        BatchPacker.Pack(batch, 2, paddingId: -1, buffer);

        Assert.Equal(new long[] { 1, 2, 1, -1, 2, 3 }, buffer);
    }

    [Fact]
    public void RejectsATooSmallBuffer()
    {
        TokenSequence[] batch = [new[] { 1, 2 }];
        Assert.Throws<ArgumentException>(() => BatchPacker.Pack(batch, 2, 0, new long[2]));
    }

    [Fact]
    public void SlicesPooledRows()
    {
        float[] output = [1, 2, 3, 4, 5, 6];

        float[][] rows = OutputSlicer.Slice(output, [3, 2], [4, 1, 9], perToken: false);

        Assert.Equal([[1f, 2f], [3f, 4f], [5f, 6f]], rows);
    }

    [Fact]
    public void SlicesPerTokenOutputWithoutPadding()
    {
        // [B=2, L=3, F=2]
        float[] output = [1, 1, 2, 2, 0, 0, 7, 7, 0, 0, 0, 0];

        float[][] rows = OutputSlicer.Slice(output, [2, 3, 2], [2, 1], perToken: true);

        Assert.Equal([[1f, 1f, 2f, 2f], [7f, 7f]], rows);
    }

    [Fact]
    public void RejectsAnOutputWithTheWrongRowCount()
    {
        Assert.Throws<InvalidOperationException>(() => OutputSlicer.Slice(new float[4], [2, 2], [1, 1, 1], perToken: false));
    }
}
