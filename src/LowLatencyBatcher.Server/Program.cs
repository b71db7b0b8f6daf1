using LowLatencyBatcher.Server;

await EmbeddingsServer.Build(args).RunAsync();

/// <summary>The server's entry point: <c>dotnet run --project src/LowLatencyBatcher.Server -- --urls http://127.0.0.1:5080</c>.</summary>
public partial class Program;
