using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Nats;

/// <summary>Registers NATS workers and clients in an <see cref="IServiceCollection"/>.</summary>
public static class NatsBatcherServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="BatcherWorker{TRecord, TResult}"/> as a singleton and a hosted service, in front of the
    /// <see cref="DynamicBatcher{TRecord, TResult}"/> registered in the container (for example with the hosting
    /// package's <c>AddTokenBatcher</c>, called first so the batcher starts before the worker and stops after it),
    /// with its metrics (<see cref="BatcherWorkerMetrics"/>). Codecs registered as <see cref="IBatcherCodec{T}"/>
    /// are used; System.Text.Json otherwise. The options are validated when the host starts.
    /// </summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The options builder, to bind a configuration section (<c>.BindConfiguration("BatcherWorker")</c>) or configure values in code.</returns>
    public static OptionsBuilder<BatcherWorkerOptions> AddBatcherWorker<TRecord, TResult>(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatcherWorkerOptions>, BatcherOptionsValidator<BatcherWorkerOptions>>());
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<BatcherWorkerOptions>>().Value;
            return new BatcherWorker<TRecord, TResult>(
                provider.GetRequiredService<DynamicBatcher<TRecord, TResult>>(),
                options,
                provider.GetService<IBatcherCodec<TRecord>>(),
                provider.GetService<IBatcherCodec<TResult>>(),
                provider.GetService<ILoggerFactory>()?.CreateLogger("LowLatencyBatcher.Nats.BatcherWorker"),
                meterFactory: provider.GetService<IMeterFactory>());
        });
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<BatcherWorker<TRecord, TResult>>());
        return services.AddOptions<BatcherWorkerOptions>().ValidateOnStart();
    }

    /// <summary>
    /// Registers a <see cref="BatcherClient{TRecord, TResult}"/> as a singleton. Codecs registered as
    /// <see cref="IBatcherCodec{T}"/> are used; System.Text.Json otherwise. The options are validated when the host
    /// starts (or when the client is first resolved).
    /// </summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The options builder, to bind a configuration section (<c>.BindConfiguration("BatcherClient")</c>) or configure values in code.</returns>
    public static OptionsBuilder<BatcherClientOptions> AddBatcherClient<TRecord, TResult>(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatcherClientOptions>, BatcherOptionsValidator<BatcherClientOptions>>());
        services.TryAddSingleton(provider => new BatcherClient<TRecord, TResult>(
            provider.GetRequiredService<IOptions<BatcherClientOptions>>().Value,
            provider.GetService<IBatcherCodec<TRecord>>(),
            provider.GetService<IBatcherCodec<TResult>>()));
        return services.AddOptions<BatcherClientOptions>().ValidateOnStart();
    }
}
