namespace LowLatencyBatcher.Torch.Models.Onnx;

/// <summary>One weight read from an ONNX model: its shape and its <c>float32</c> values, row-major.</summary>
/// <param name="Shape">The dimensions as stored.</param>
/// <param name="Values">The values.</param>
/// <param name="Transposed">
/// True when the stored matrix is the <c>[in, out]</c> right-hand side of a <c>MatMul</c>: a linear layer's weight
/// (<c>[out, in]</c>) is its transpose.
/// </param>
internal sealed record OnnxWeight(long[] Shape, float[] Values, bool Transposed);
