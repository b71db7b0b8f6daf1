using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// One post-norm BERT encoder layer: multi-head self-attention with a residual connection and layer normalisation,
/// then a GELU (erf) feed-forward block with a residual connection and layer normalisation.
/// </summary>
internal sealed class BertLayer : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly int _heads;
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly Linear attention_output;
    private readonly LayerNorm attention_norm;
    private readonly Linear intermediate;
    private readonly Linear output;
    private readonly LayerNorm output_norm;

    public BertLayer(string name, BertEncoderOptions options) : base(name)
    {
        _heads = options.Heads;
        int hidden = options.HiddenSize;
        query = nn.Linear(hidden, hidden);
        key = nn.Linear(hidden, hidden);
        value = nn.Linear(hidden, hidden);
        attention_output = nn.Linear(hidden, hidden);
        attention_norm = nn.LayerNorm(hidden, options.LayerNormEpsilon);
        intermediate = nn.Linear(hidden, options.IntermediateSize);
        output = nn.Linear(options.IntermediateSize, hidden);
        output_norm = nn.LayerNorm(hidden, options.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <param name="x">Hidden states, <c>[B, L, H]</c>.</param>
    /// <param name="keyBias">Added to the attention scores, <c>[B, 1, 1, L]</c>: zero at real keys, a large negative number at padding.</param>
    public override Tensor forward(Tensor x, Tensor keyBias)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], hidden = x.shape[2];
        long headSize = hidden / _heads;
        Tensor SplitHeads(Tensor t) => t.view(batch, length, _heads, headSize).transpose(1, 2);

        Tensor q = SplitHeads(query.forward(x)), k = SplitHeads(key.forward(x)), v = SplitHeads(value.forward(x));
        Tensor scores = q.matmul(k.transpose(-2, -1)).div_(Math.Sqrt(headSize)).add_(keyBias);
        Tensor context = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(batch, length, hidden);
        Tensor attended = attention_norm.forward(attention_output.forward(context).add_(x));

        Tensor inner = nn.functional.gelu(intermediate.forward(attended));
        return output_norm.forward(output.forward(inner).add_(attended)).MoveToOuterDisposeScope();
    }
}
