using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// A pre-norm transformer encoder layer: multi-head self-attention and a GELU feed-forward block, each with a
/// residual connection. Written out from primitive ops so the padding mask handling is explicit.
/// </summary>
internal sealed class EncoderLayer : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly int _heads;
    private readonly LayerNorm attention_norm;
    private readonly Linear qkv;
    private readonly Linear attention_out;
    private readonly LayerNorm feed_forward_norm;
    private readonly Linear feed_forward_in;
    private readonly Linear feed_forward_out;

    public EncoderLayer(string name, int dimension, int heads, int feedForwardDimension) : base(name)
    {
        _heads = heads;
        attention_norm = nn.LayerNorm(dimension);
        qkv = nn.Linear(dimension, 3L * dimension);
        attention_out = nn.Linear(dimension, dimension);
        feed_forward_norm = nn.LayerNorm(dimension);
        feed_forward_in = nn.Linear(dimension, feedForwardDimension);
        feed_forward_out = nn.Linear(feedForwardDimension, dimension);
        RegisterComponents();
    }

    /// <param name="x">Hidden states, <c>[B, L, D]</c>.</param>
    /// <param name="keyBias">
    /// Added to the attention scores, <c>[B, 1, 1, L]</c>: zero at real keys and a large negative number at
    /// padded ones, so that no position attends to padding. The softmax then gives padded keys a weight of
    /// exactly zero, which keeps a sequence's result independent of how much padding its batch adds.
    /// </param>
    public override Tensor forward(Tensor x, Tensor keyBias)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], dimension = x.shape[2];
        long headDimension = dimension / _heads;

        Tensor[] projected = qkv.forward(attention_norm.forward(x)).chunk(3, -1);
        Tensor SplitHeads(Tensor t) => t.view(batch, length, _heads, headDimension).transpose(1, 2);
        Tensor q = SplitHeads(projected[0]), k = SplitHeads(projected[1]), v = SplitHeads(projected[2]);

        Tensor scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(headDimension)).add(keyBias);
        Tensor context = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(batch, length, dimension);
        Tensor attended = x.add(attention_out.forward(context));

        Tensor hidden = nn.functional.gelu(feed_forward_in.forward(feed_forward_norm.forward(attended)));
        return attended.add(feed_forward_out.forward(hidden)).MoveToOuterDisposeScope();
    }
}
