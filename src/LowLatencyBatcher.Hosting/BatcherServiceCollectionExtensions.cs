using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Hosting;

/// <summary>Registers batchers in an <see cref="IServiceCollection"/>.</summary>
public static class BatcherServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="TokenBatcher{TRecord, TResult}"/> as a singleton (also resolvable as
    /// <see cref="DynamicBatcher{TRecord, TResult}"/>), with <see cref="BatcherOptions"/> named
    /// <paramref name="name"/>, metrics (<see cref="BatcherMetrics"/>), logging, and a hosted service that starts it
    /// with the host and drains it on shutdown. The options are validated when the host starts.
    /// </summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="processFn">Gets the process function from the container (for example a model runner's <c>ProcessAsync</c>).</param>
    /// <param name="name">
    /// The batcher's name: the options name, and the <see cref="BatcherMetrics.BatcherNameTag"/> tag and the name in
    /// log messages. Default: the record type's name.
    /// </param>
    /// <returns>
    /// The options builder, to bind a configuration section (<c>.BindConfiguration("Batcher")</c>) or configure values
    /// in code (<c>.Configure(o =&gt; o.Workers = 2)</c>).
    /// </returns>
    /// <exception cref="InvalidOperationException">A batcher of these types, or one with this name, is already registered.</exception>
    public static OptionsBuilder<BatcherOptions> AddTokenBatcher<TRecord, TResult>(
        this IServiceCollection services, Func<IServiceProvider, ProcessFn<TRecord, TResult>> processFn, string? name = null)
    {
        var builder = Register<TRecord, TResult>(services, processFn, name, tokenBatcher: true);
        services.AddSingleton(provider => (TokenBatcher<TRecord, TResult>)provider.GetRequiredService<DynamicBatcher<TRecord, TResult>>());
        return builder;
    }

    /// <summary>
    /// Registers a <see cref="DynamicBatcher{TRecord, TResult}"/> as a singleton, with <see cref="BatcherOptions"/>
    /// named <paramref name="name"/>, metrics, logging, and a hosted service that starts it with the host and drains
    /// it on shutdown. The options are validated when the host starts; the token-only options must stay unset.
    /// </summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="processFn">Gets the process function from the container.</param>
    /// <param name="name">The batcher's name (options name, metric tag, log messages). Default: the record type's name.</param>
    /// <returns>The options builder, to bind a configuration section or configure values in code.</returns>
    /// <exception cref="InvalidOperationException">A batcher of these types, or one with this name, is already registered.</exception>
    public static OptionsBuilder<BatcherOptions> AddDynamicBatcher<TRecord, TResult>(
        this IServiceCollection services, Func<IServiceProvider, ProcessFn<TRecord, TResult>> processFn, string? name = null) =>
        Register<TRecord, TResult>(services, processFn, name, tokenBatcher: false);

    private static OptionsBuilder<BatcherOptions> Register<TRecord, TResult>(
        IServiceCollection services, Func<IServiceProvider, ProcessFn<TRecord, TResult>> processFn, string? name, bool tokenBatcher)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(processFn);
        name ??= typeof(TRecord).Name;
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(BatcherRegistration) && descriptor.ImplementationInstance is BatcherRegistration existing)
            {
                if (existing.RecordType == typeof(TRecord) && existing.ResultType == typeof(TResult))
                {
                    throw new InvalidOperationException(
                        $"A batcher of {typeof(TRecord).Name} to {typeof(TResult).Name} is already registered (as '{existing.Name}').");
                }

                if (existing.Name == name)
                {
                    throw new InvalidOperationException(
                        $"A batcher named '{name}' is already registered; pass a distinct name.");
                }
            }
        }

        var registration = new BatcherRegistration(name, typeof(TRecord), typeof(TResult), tokenBatcher);
        services.AddSingleton(registration);
        services.AddMetrics();
        services.AddSingleton<IValidateOptions<BatcherOptions>>(new BatcherOptionsValidator<TRecord, TResult>(registration));

        services.AddSingleton(provider => CreateBatcher(provider, registration, processFn));
        services.AddHostedService(provider => new BatcherHostedService<TRecord, TResult>(
            provider.GetRequiredService<DynamicBatcher<TRecord, TResult>>(),
            registration,
            provider.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get(name),
            LoggerFactory(provider)));

        return services.AddOptions<BatcherOptions>(name).ValidateOnStart();
    }

    private static ILoggerFactory LoggerFactory(IServiceProvider provider) =>
        provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;

    private static DynamicBatcher<TRecord, TResult> CreateBatcher<TRecord, TResult>(
        IServiceProvider provider, BatcherRegistration registration, Func<IServiceProvider, ProcessFn<TRecord, TResult>> processFn)
    {
        BatcherOptions options = provider.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get(registration.Name);
        TimeProvider timeProvider = provider.GetService<TimeProvider>() ?? TimeProvider.System;
        var metrics = new BatcherMetrics(registration.Name, provider.GetRequiredService<IMeterFactory>(), timeProvider);
        var observer = new HostedBatchObserver(metrics, LoggerFactory(provider).CreateLogger(BatcherLog.Category));
        ProcessFn<TRecord, TResult> process = processFn(provider)
            ?? throw new InvalidOperationException($"The process function factory of batcher '{registration.Name}' returned null.");

        DynamicBatcher<TRecord, TResult> batcher = registration.IsTokenBatcher
            ? new TokenBatcher<TRecord, TResult>(process, options.ToTokenBatcherOptions<TRecord>(observer, timeProvider))
            : new DynamicBatcher<TRecord, TResult>(process, options.ToDynamicBatcherOptions<TRecord>(observer, timeProvider));
        metrics.Observe(batcher);
        return batcher;
    }
}
