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
    /// <remarks>
    /// The batcher follows changes of its options while it runs (a reload of the configuration section it is bound
    /// to), from its next batch on. A change is validated like the options at start; one that breaks a rule is
    /// refused whole and logged (<see cref="BatcherEventIds.ReconfigurationRefused"/>), and the batcher keeps its
    /// configuration. Of a valid change, the live options apply (<see cref="BatcherOptions.TargetBatchCost"/>,
    /// <see cref="BatcherOptions.TargetBatchTokens"/>, the default costs, the batch sizes, <see cref="BatcherOptions.BatchTimeout"/>,
    /// <see cref="BatcherOptions.CostModel"/>, <see cref="BatcherOptions.PerBatchCost"/>, <see cref="BatcherOptions.QueueFullMode"/>,
    /// <see cref="BatcherOptions.DefaultTimeout"/>, <see cref="BatcherOptions.IsolateFailures"/>;
    /// <see cref="BatcherEventIds.Reconfigured"/>), while the creation-only ones (<see cref="BatcherOptions.MaxQueueSize"/>,
    /// <see cref="BatcherOptions.PrefetchBatches"/>, <see cref="BatcherOptions.Workers"/>, <see cref="BatcherOptions.PinPackingThread"/>,
    /// <see cref="BatcherOptions.PriorityLanes"/>, <see cref="BatcherOptions.PriorityAging"/>, <see cref="BatcherOptions.CostBuckets"/>)
    /// keep the values the batcher was created with until the next start (<see cref="BatcherEventIds.RestartRequired"/>).
    /// </remarks>
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
    /// it on shutdown. The options are validated when the host starts; the token-only options must stay unset. Changes
    /// of the options are followed while it runs, as described for
    /// <see cref="AddTokenBatcher{TRecord, TResult}"/>.
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
        services.AddSingleton(provider => provider.GetRequiredService<HostedBatcher<TRecord, TResult>>().Batcher);
        services.AddHostedService(provider => new BatcherHostedService<TRecord, TResult>(
            provider.GetRequiredService<HostedBatcher<TRecord, TResult>>(),
            registration,
            LoggerFactory(provider)));

        return services.AddOptions<BatcherOptions>(name).ValidateOnStart();
    }

    private static ILoggerFactory LoggerFactory(IServiceProvider provider) =>
        provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;

    private static HostedBatcher<TRecord, TResult> CreateBatcher<TRecord, TResult>(
        IServiceProvider provider, BatcherRegistration registration, Func<IServiceProvider, ProcessFn<TRecord, TResult>> processFn)
    {
        BatcherOptions options = provider.GetRequiredService<IOptionsMonitor<BatcherOptions>>().Get(registration.Name);
        TimeProvider timeProvider = provider.GetService<TimeProvider>() ?? TimeProvider.System;
        var metrics = new BatcherMetrics(registration.Name, provider.GetRequiredService<IMeterFactory>(), timeProvider);
        ILogger logger = LoggerFactory(provider).CreateLogger(BatcherLog.Category);
        var observer = new HostedBatchObserver(metrics, logger);
        ProcessFn<TRecord, TResult> process = processFn(provider)
            ?? throw new InvalidOperationException($"The process function factory of batcher '{registration.Name}' returned null.");

        DynamicBatcher<TRecord, TResult> batcher = registration.IsTokenBatcher
            ? new TokenBatcher<TRecord, TResult>(process, options.ToTokenBatcherOptions<TRecord>(observer, timeProvider))
            : new DynamicBatcher<TRecord, TResult>(process, options.ToDynamicBatcherOptions<TRecord>(observer, timeProvider));
        metrics.Observe(batcher);
        return new HostedBatcher<TRecord, TResult>(
            registration,
            batcher,
            options,
            provider.GetRequiredService<IOptionsFactory<BatcherOptions>>(),
            provider.GetServices<IOptionsChangeTokenSource<BatcherOptions>>(),
            observer,
            timeProvider,
            logger);
    }
}
