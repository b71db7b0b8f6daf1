namespace LowLatencyBatcher.Nats.Tests;

/// <summary>One NATS server shared by the tests of a collection (each test uses its own service name).</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    private NatsServer? _server;

    /// <summary>The server.</summary>
    public NatsServer Server => _server ?? throw new InvalidOperationException("The server was not started.");

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await NatsServer.StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>The collection of tests that share one NATS server (and run one after another: the machine is small).</summary>
[CollectionDefinition(Name)]
public sealed class NatsCollection : ICollectionFixture<NatsServerFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "nats";
}
