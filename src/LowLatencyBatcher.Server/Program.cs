using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.Server;

// A setting that breaks its rule (--Embeddings:Device=cuda on a CPU build, a port in use) ends the process with one
// line naming the setting, and exit code 2; any other failure to start keeps its stack trace.
return await CommandLineTool.RunAsync(
    async () =>
    {
        await EmbeddingsServer.Build(args).RunAsync();
        return 0;
    },
    error => StartupErrors.Describe(error) is { } line ? new UsageException(line) : null);

/// <summary>The server's entry point: <c>dotnet run --project src/LowLatencyBatcher.Server -- --urls http://127.0.0.1:5080</c>.</summary>
public partial class Program;
