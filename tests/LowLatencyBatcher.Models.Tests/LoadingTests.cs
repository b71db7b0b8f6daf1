using LowLatencyBatcher.Onnx;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;

namespace LowLatencyBatcher.Models.Tests;

/// <summary>Loading the model: where the build put it, and clear failures for a missing or different file.</summary>
public sealed class LoadingTests
{
    [Fact]
    public void The_build_put_both_model_files_next_to_the_application()
    {
        MiniLmFiles files = MiniLmFiles.Default.EnsureExist();
        Assert.True(new FileInfo(files.ModelPath).Length > 80_000_000, "the whole ONNX model");
        Assert.True(new FileInfo(files.VocabularyPath).Length > 200_000, "the whole vocabulary");
    }

    [Fact]
    public void A_missing_model_folder_is_reported_with_the_path_and_how_the_files_get_there()
    {
        var error = Assert.Throws<FileNotFoundException>(() => new MiniLmFiles("/nonexistent/minilm").EnsureExist());
        Assert.Contains("/nonexistent/minilm/model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("MiniLmModel.targets", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_an_onnx_model_is_refused_by_both_backends()
    {
        string vocabulary = MiniLmFiles.Default.EnsureExist().VocabularyPath;
        var torch = Assert.Throws<InvalidDataException>(() => BertEncoder.Load(vocabulary));
        Assert.Contains("is not an ONNX model", torch.Message, StringComparison.Ordinal);
        var onnx = Assert.Throws<InvalidDataException>(() => new OnnxEmbeddingRunner<TokenSequence>(vocabulary, r => r.Ids));
        Assert.Contains(vocabulary, onnx.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_of_another_shape_is_refused_with_the_weight_that_does_not_fit()
    {
        string model = MiniLmFiles.Default.EnsureExist().ModelPath;
        var fewerLayers = Assert.Throws<InvalidDataException>(() => BertEncoder.Load(model, new BertEncoderOptions { Layers = 4 }));
        Assert.Contains("encoder.layer.4", fewerLayers.Message, StringComparison.Ordinal);

        var wider = Assert.Throws<InvalidDataException>(() => BertEncoder.Load(model, new BertEncoderOptions { HiddenSize = 768 }));
        Assert.Contains("is not the expected model", wider.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_file_is_reported_by_both_backends()
    {
        Assert.Throws<FileNotFoundException>(() => BertEncoder.Load("/nonexistent/model.onnx"));
        Assert.Throws<FileNotFoundException>(() => new OnnxEmbeddingRunner<TokenSequence>("/nonexistent/model.onnx", r => r.Ids));
    }
}
