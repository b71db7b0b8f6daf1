using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace LowLatencyBatcher.Hosting.Tests;

/// <summary>Builds small hosts for the tests: in-memory configuration, fake logging, nothing read from disk.</summary>
internal static class TestHosts
{
    /// <summary>Every wait in these tests is bounded by this; none of them should come close to it.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static HostApplicationBuilder Builder(IDictionary<string, string?>? configuration = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        builder.Logging.AddFakeLogging();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        return builder;
    }

    /// <summary>A builder whose configuration is a <see cref="ReloadableConfiguration"/> the test can change and reload.</summary>
    public static HostApplicationBuilder Builder(ReloadableConfiguration configuration)
    {
        var builder = Builder();
        ((IConfigurationBuilder)builder.Configuration).Add(configuration);
        return builder;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test after <see cref="Bound"/>.</summary>
    public static void WaitUntil(Func<bool> condition, string what)
    {
        Assert.True(SpinWait.SpinUntil(condition, Bound), $"Timed out waiting until {what}.");
    }

    /// <summary>The records logged by the hosting layer, in order (the host logs under its own categories too).</summary>
    public static FakeLogRecord[] HostingRecords(this FakeLogCollector logs) =>
        logs.GetSnapshot().Where(r => r.Category == "LowLatencyBatcher.Hosting").ToArray();

    /// <summary>The event ids logged by the hosting layer, in order.</summary>
    public static int[] HostingEventIds(this FakeLogCollector logs) => logs.HostingRecords().Select(r => r.Id.Id).ToArray();
}

/// <summary>
/// A process function that holds every batch until <see cref="Open"/> is called, records the batch sizes, and maps a
/// string to its length.
/// </summary>
internal sealed class GatedLengths
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<int> _sizes = [];
    private int _entered;

    public bool IgnoreCancellation { get; init; }

    public int Entered => Volatile.Read(ref _entered);

    public int[] BatchSizes
    {
        get
        {
            lock (_sizes)
            {
                return _sizes.ToArray();
            }
        }
    }

    public void Open() => _gate.TrySetResult();

    public async ValueTask<IReadOnlyList<int>> ProcessAsync(IReadOnlyList<string> batch, CancellationToken cancellationToken)
    {
        int[] lengths = batch.Select(s => s.Length).ToArray(); // the batch view is valid only during the call
        lock (_sizes)
        {
            _sizes.Add(lengths.Length);
        }

        Interlocked.Increment(ref _entered);
        await _gate.Task.WaitAsync(IgnoreCancellation ? CancellationToken.None : cancellationToken);
        return lengths;
    }
}

/// <summary>An in-memory configuration source whose values a test changes, then reloads as a changed file would be.</summary>
internal sealed class ReloadableConfiguration : ConfigurationProvider, IConfigurationSource
{
    public ReloadableConfiguration(IDictionary<string, string?> initial)
    {
        foreach (var (key, value) in initial)
        {
            Data[key] = value;
        }
    }

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    /// <summary>Sets (or, with a null value, removes) the given keys, then signals a reload to every listener.</summary>
    public void Change(IDictionary<string, string?> changes)
    {
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                Data.Remove(key);
            }
            else
            {
                Data[key] = value;
            }
        }

        OnReload();
    }

    /// <summary>
    /// Changes to values the options refuse. The options monitor, which reads the options afresh on every reload too,
    /// rethrows that failure to whoever triggered the reload (wrapped by each change token it passed through); the
    /// batcher has logged and ignored it by then.
    /// </summary>
    /// <returns>The failure the monitor rethrew.</returns>
    public Exception ChangeRefused(IDictionary<string, string?> changes) =>
        Assert.Single(Assert.Throws<AggregateException>(() => Change(changes)).Flatten().InnerExceptions);
}
