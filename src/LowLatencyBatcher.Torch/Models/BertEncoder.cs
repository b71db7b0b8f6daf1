using System.Diagnostics;
using System.Text.RegularExpressions;
using LowLatencyBatcher.Torch.Models.Onnx;
using LowLatencyBatcher.Torch.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// A BERT sentence encoder in TorchSharp (embeddings and layer normalisation, post-norm encoder layers with GELU,
/// masked mean pooling, L2 normalisation), with the weights of a sentence-transformers model such as
/// all-MiniLM-L6-v2 read from its ONNX export. Input: <c>ids</c> <c>[B, L]</c> (<c>int64</c>) and <c>mask</c>
/// <c>[B, L]</c> (<c>bool</c>, true at real tokens; ids start with <c>[CLS]</c> and end with <c>[SEP]</c>); output
/// <c>[B, H]</c> (<c>float32</c>), each row of unit length. A sequence's embedding does not depend on the padding
/// around it. Every token type is 0 (single sentences).
/// </summary>
public sealed partial class BertEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    // A large finite negative (not -inf) so a row of all-padding queries still softmaxes to finite numbers.
    private const double MaskedScore = -1e9;

    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly LayerNorm embeddings_norm;
    private readonly ModuleList<BertLayer> layer;

    /// <summary>Builds the encoder with uninitialised weights; <see cref="Load"/> builds one with a model's weights.</summary>
    /// <param name="options">The shape; all-MiniLM-L6-v2's when <see langword="null"/>.</param>
    public BertEncoder(BertEncoderOptions? options = null) : base(nameof(BertEncoder))
    {
        TorchNative.EnsureLoaded();
        Options = options ?? new BertEncoderOptions();
        if (Options.HiddenSize % Options.Heads != 0)
        {
            throw new ArgumentException("HiddenSize must be a multiple of Heads.", nameof(options));
        }

        word_embeddings = nn.Embedding(Options.VocabularySize, Options.HiddenSize);
        position_embeddings = nn.Embedding(Options.MaxSequenceLength, Options.HiddenSize);
        token_type_embeddings = nn.Embedding(2, Options.HiddenSize);
        embeddings_norm = nn.LayerNorm(Options.HiddenSize, Options.LayerNormEpsilon);
        layer = nn.ModuleList(Enumerable.Range(0, Options.Layers).Select(i => new BertLayer($"layer{i}", Options)).ToArray());
        RegisterComponents();
    }

    /// <summary>The shape this encoder was built with.</summary>
    public BertEncoderOptions Options { get; }

    /// <summary>How long <see cref="Load"/> took to read and copy the weights (zero for an encoder built directly).</summary>
    public TimeSpan LoadTime { get; private set; }

    /// <summary>
    /// Builds an encoder on the CPU and fills every weight from the ONNX model at <paramref name="onnxPath"/>, read
    /// once from the file. Move it to a device with the runner.
    /// </summary>
    /// <param name="onnxPath">The ONNX export of the model (for all-MiniLM-L6-v2, <see cref="MiniLmFiles.ModelPath"/>).</param>
    /// <param name="options">The expected shape; all-MiniLM-L6-v2's when <see langword="null"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model of that shape: a weight is missing, extra or of another shape.</exception>
    public static BertEncoder Load(string onnxPath, BertEncoderOptions? options = null)
    {
        long start = Stopwatch.GetTimestamp();
        Dictionary<string, OnnxWeight> weights = OnnxWeights.Read(onnxPath);
        var encoder = new BertEncoder(options);
        try
        {
            encoder.CopyWeights(weights, onnxPath);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }

        encoder.eval();
        encoder.LoadTime = Stopwatch.GetElapsedTime(start);
        return encoder;
    }

    /// <summary>Embeds a padded batch.</summary>
    /// <param name="ids">Token ids, <c>[B, L]</c>.</param>
    /// <param name="mask">True at real tokens, <c>[B, L]</c>.</param>
    /// <returns>One unit-length embedding per sequence, <c>[B, H]</c>.</returns>
    public override Tensor forward(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long length = ids.shape[1];
        if (length > Options.MaxSequenceLength)
        {
            throw new ArgumentException($"Sequences are limited to {Options.MaxSequenceLength} tokens; got {length}.", nameof(ids));
        }

        Tensor positions = arange(length, int64, ids.device);
        Tensor x = word_embeddings.forward(ids)
            .add_(position_embeddings.forward(positions).unsqueeze(0))
            .add_(token_type_embeddings.weight![0]);
        x = embeddings_norm.forward(x);

        Tensor keyBias = zeros(mask.shape, float32, mask.device).masked_fill_(mask.logical_not(), MaskedScore)
            .view(mask.shape[0], 1, 1, length);
        foreach (BertLayer block in layer)
        {
            x = block.forward(x, keyBias);
        }

        Tensor weights = mask.to(float32).unsqueeze(-1);
        Tensor pooled = x.mul(weights).sum(1).div_(weights.sum(1).clamp_min(1e-9));
        Tensor normalized = pooled.div(pooled.norm(1, keepdim: true, p: 2).clamp_min(1e-12));
        return normalized.MoveToOuterDisposeScope();
    }

    private void CopyWeights(Dictionary<string, OnnxWeight> weights, string path)
    {
        var parameters = named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter, StringComparer.Ordinal);
        var filled = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach ((string sourceName, OnnxWeight weight) in weights)
        {
            string? name = LocalName(sourceName);
            if (name is null)
            {
                continue; // the pooler and other heads that sentence embeddings do not use
            }

            if (!parameters.TryGetValue(name, out Parameter? parameter))
            {
                throw new InvalidDataException($"'{path}' is not the expected model: it has the weight '{sourceName}', which a {Describe()} does not.");
            }

            using Tensor stored = tensor(weight.Values, weight.Shape, float32);
            using Tensor source = weight.Transposed ? stored.t() : stored.alias();
            if (!source.shape.SequenceEqual(parameter.shape))
            {
                throw new InvalidDataException(
                    $"'{path}' is not the expected model: '{sourceName}' has shape [{string.Join(", ", source.shape)}]; a {Describe()} needs [{string.Join(", ", parameter.shape)}].");
            }

            parameter.copy_(source);
            filled.Add(name);
        }

        string[] missing = parameters.Keys.Where(name => !filled.Contains(name)).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidDataException($"'{path}' is not the expected model: it lacks {missing.Length} weight(s) of a {Describe()}, e.g. '{missing[0]}'.");
        }
    }

    private string Describe() => $"BERT encoder of {Options.Layers} layers, hidden size {Options.HiddenSize} and vocabulary {Options.VocabularySize}";

    /// <summary>Maps a Hugging Face BERT parameter name to this module's, or null for weights it does not use.</summary>
    internal static string? LocalName(string name)
    {
        if (name.StartsWith("embeddings.", StringComparison.Ordinal))
        {
            string rest = name["embeddings.".Length..];
            return rest.StartsWith("LayerNorm.", StringComparison.Ordinal) ? "embeddings_norm." + rest["LayerNorm.".Length..] : rest;
        }

        Match match = LayerName().Match(name);
        if (!match.Success)
        {
            return name.StartsWith("encoder.", StringComparison.Ordinal) ? name : null; // unknown encoder weights fail the load
        }

        string part = match.Groups["part"].Value switch
        {
            "attention.self.query" => "query",
            "attention.self.key" => "key",
            "attention.self.value" => "value",
            "attention.output.dense" => "attention_output",
            "attention.output.LayerNorm" => "attention_norm",
            "intermediate.dense" => "intermediate",
            "output.dense" => "output",
            "output.LayerNorm" => "output_norm",
            _ => match.Groups["part"].Value,
        };
        return $"layer.{match.Groups["index"].Value}.{part}.{match.Groups["kind"].Value}";
    }

    [GeneratedRegex(@"^encoder\.layer\.(?<index>\d+)\.(?<part>.+)\.(?<kind>weight|bias)$")]
    private static partial Regex LayerName();
}
