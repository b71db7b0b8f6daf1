using LowLatencyBatcher.Torch.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// A small transformer encoder with random weights drawn from a fixed seed (nothing is downloaded): it maps a
/// token-id sequence to one embedding vector by masked mean pooling over its real tokens. Input: <c>ids</c>
/// <c>[B, L]</c> (<c>int64</c>) and <c>mask</c> <c>[B, L]</c> (<c>bool</c>, true at real tokens); output
/// <c>[B, D]</c> (<c>float32</c>). A sequence's embedding does not depend on the padding around it.
/// </summary>
public sealed class DemoEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    // A large finite negative (not -inf) so a row of all-padding queries still softmaxes to finite numbers.
    private const double MaskedScore = -1e9;

    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;
    private readonly ModuleList<EncoderLayer> layers;
    private readonly LayerNorm final_norm;

    /// <summary>Builds the encoder and draws its weights from <see cref="DemoEncoderOptions.Seed"/>.</summary>
    /// <param name="options">Shape and seed; defaults when <see langword="null"/>.</param>
    public DemoEncoder(DemoEncoderOptions? options = null) : base(nameof(DemoEncoder))
    {
        TorchNative.EnsureLoaded();
        Options = options ?? new DemoEncoderOptions();
        if (Options.ModelDimension % Options.Heads != 0)
        {
            throw new ArgumentException("ModelDimension must be a multiple of Heads.", nameof(options));
        }

        token_embedding = nn.Embedding(Options.VocabularySize, Options.ModelDimension);
        position_embedding = nn.Embedding(Options.MaxSequenceLength, Options.ModelDimension);
        layers = nn.ModuleList(Enumerable.Range(0, Options.Layers)
            .Select(i => new EncoderLayer($"layer{i}", Options.ModelDimension, Options.Heads, Options.FeedForwardDimension))
            .ToArray());
        final_norm = nn.LayerNorm(Options.ModelDimension);
        RegisterComponents();
        InitializeWeights(Options.Seed);
    }

    /// <summary>The shape and seed this encoder was built with.</summary>
    public DemoEncoderOptions Options { get; }

    /// <summary>Embeds a padded batch.</summary>
    /// <param name="ids">Token ids, <c>[B, L]</c>.</param>
    /// <param name="mask">True at real tokens, <c>[B, L]</c>.</param>
    /// <returns>One embedding per sequence, <c>[B, D]</c>.</returns>
    public override Tensor forward(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long length = ids.shape[1];
        if (length > Options.MaxSequenceLength)
        {
            throw new ArgumentException($"Sequences are limited to {Options.MaxSequenceLength} tokens; got {length}.", nameof(ids));
        }

        Tensor positions = arange(length, int64, ids.device);
        Tensor x = token_embedding.forward(ids).add(position_embedding.forward(positions).unsqueeze(0));

        Tensor keyBias = zeros(mask.shape, float32, mask.device).masked_fill(mask.logical_not(), MaskedScore)
            .view(mask.shape[0], 1, 1, length);
        foreach (EncoderLayer layer in layers)
        {
            x = layer.forward(x, keyBias);
        }

        x = final_norm.forward(x);

        Tensor weights = mask.to(float32).unsqueeze(-1);
        Tensor pooled = x.mul(weights).sum(1).div(weights.sum(1).clamp_min(1.0));
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Redraws every weight from a private generator, so the result depends only on the seed and not on the
    /// global random state other code may have touched. Matrices get N(0, 1/fan_in); norm scales 1; biases 0.
    /// </summary>
    private void InitializeWeights(long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach ((string name, Parameter parameter) in named_parameters())
        {
            if (parameter.dim() >= 2)
            {
                using Tensor drawn = randn(parameter.shape, float32, CPU, generator: generator);
                using Tensor scaled = drawn.div(Math.Sqrt(parameter.shape[^1]));
                parameter.copy_(scaled);
            }
            else if (name.EndsWith("weight", StringComparison.Ordinal))
            {
                parameter.fill_(1.0);
            }
            else
            {
                parameter.zero_();
            }
        }
    }
}
