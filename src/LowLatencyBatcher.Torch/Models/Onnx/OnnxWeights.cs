using System.Runtime.InteropServices;
using Google.Protobuf;

namespace LowLatencyBatcher.Torch.Models.Onnx;

/// <summary>
/// Reads the weights of an exported Hugging Face model from its ONNX file (parsed with Google.Protobuf): the named
/// initializers keep their names; an unnamed <c>MatMul</c> weight gets the name of the bias added right after it
/// (<c>….bias</c> → <c>….weight</c>), found by following the graph.
/// </summary>
internal static class OnnxWeights
{
    private const int FloatType = 1; // TensorProto.DataType.FLOAT
    private const int ExternalLocation = 1; // TensorProto.DataLocation.EXTERNAL

    /// <summary>Reads every float weight of the model at <paramref name="path"/>, by name.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model with its weights inside.</exception>
    public static Dictionary<string, OnnxWeight> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The ONNX model '{path}' does not exist.", path);
        }

        ModelProto model;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException error)
        {
            throw new InvalidDataException($"'{path}' is not an ONNX model: {error.Message}", error);
        }

        GraphProto graph = model.Graph
            ?? throw new InvalidDataException($"'{path}' is not an ONNX model: it has no graph.");
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
        {
            initializers[tensor.Name] = tensor;
        }

        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
        {
            foreach (string input in node.Input)
            {
                if (!consumers.TryGetValue(input, out List<NodeProto>? list))
                {
                    consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        var weights = new Dictionary<string, OnnxWeight>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
        {
            if (tensor.DataType == FloatType && IsHuggingFaceName(tensor.Name))
            {
                weights[tensor.Name] = new OnnxWeight(tensor.Dims.ToArray(), Values(tensor, path), Transposed: false);
            }
        }

        foreach (NodeProto matMul in graph.Node)
        {
            if (matMul.OpType != "MatMul" || matMul.Input.Count != 2 || matMul.Output.Count != 1
                || !initializers.TryGetValue(matMul.Input[1], out TensorProto? matrix)
                || matrix.DataType != FloatType || matrix.Dims.Count != 2 || IsHuggingFaceName(matrix.Name))
            {
                continue;
            }

            string? bias = consumers.GetValueOrDefault(matMul.Output[0])?
                .Where(node => node.OpType == "Add")
                .SelectMany(node => node.Input)
                .FirstOrDefault(input => input.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(input));
            if (bias is null)
            {
                continue;
            }

            string name = string.Concat(bias.AsSpan(0, bias.Length - ".bias".Length), ".weight");
            weights[name] = new OnnxWeight(matrix.Dims.ToArray(), Values(matrix, path), Transposed: true);
        }

        return weights;
    }

    // Hugging Face parameter names are dotted paths ("encoder.layer.0.attention.self.query.bias"); the exporter's own
    // names are numbers or "onnx::…".
    private static bool IsHuggingFaceName(string name) =>
        name.Contains('.', StringComparison.Ordinal) && !name.StartsWith("onnx::", StringComparison.Ordinal);

    private static float[] Values(TensorProto tensor, string path)
    {
        if (tensor.DataLocation == ExternalLocation)
        {
            throw new InvalidDataException($"'{path}' keeps the weight '{tensor.Name}' in an external file; only self-contained models are supported.");
        }

        long count = tensor.Dims.Aggregate(1L, (product, dimension) => product * dimension);
        float[] values;
        if (!tensor.RawData.IsEmpty)
        {
            if (tensor.RawData.Length != count * sizeof(float))
            {
                throw new InvalidDataException($"'{path}': the weight '{tensor.Name}' holds {tensor.RawData.Length} bytes for {count} floats.");
            }

            values = MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this machine is not.");
            }
        }
        else
        {
            if (tensor.FloatData.Count != count)
            {
                throw new InvalidDataException($"'{path}': the weight '{tensor.Name}' holds {tensor.FloatData.Count} values for {count}.");
            }

            values = [.. tensor.FloatData];
        }

        return values;
    }
}
