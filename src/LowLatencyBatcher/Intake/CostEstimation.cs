using System.Reflection;

namespace LowLatencyBatcher.Intake;

/// <summary>
/// Estimates a record's cost once, at submit, in this order: explicit tokens, explicit cost, the estimator function,
/// <see cref="ITokenEstimator"/> (token batchers only), <see cref="ICostEstimator"/>, the default. An explicit 0 counts.
/// </summary>
internal static class CostEstimation
{
    /// <summary>Returns the record's cost; throws for a negative estimate, naming where it came from.</summary>
    public static int Resolve<TRecord>(
        BatcherSettings<TRecord> settings, TRecord record, int? estimatedTokens, int? estimatedCost)
    {
        if (estimatedTokens is int tokens)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(tokens, nameof(estimatedTokens));
            return tokens;
        }

        if (estimatedCost is int cost)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(cost, nameof(estimatedCost));
            return cost;
        }

        if (settings.Estimator is { } estimator)
        {
            return Checked(estimator(record), settings.EstimatorName);
        }

        if (typeof(TRecord).IsValueType)
        {
            // `record is ITokenEstimator` would box a struct on every submit; the record's type is exact here, so
            // delegates over constrained generic methods (made once per type) call it without boxing.
            if (settings.UseTokenEstimates && SelfEstimates<TRecord>.Tokens is { } tokensOf)
            {
                return Checked(tokensOf(record), "ITokenEstimator.EstimateTokens()");
            }

            return SelfEstimates<TRecord>.Cost is { } costOf
                ? Checked(costOf(record), "ICostEstimator.EstimateCost()")
                : settings.DefaultCost;
        }

        if (settings.UseTokenEstimates && record is ITokenEstimator tokenEstimator)
        {
            return Checked(tokenEstimator.EstimateTokens(), "ITokenEstimator.EstimateTokens()");
        }

        if (record is ICostEstimator costEstimator)
        {
            return Checked(costEstimator.EstimateCost(), "ICostEstimator.EstimateCost()");
        }

        return settings.DefaultCost;
    }

    /// <summary>Boxing-free self-estimates of a value-type record, or null where the type does not implement them.</summary>
    private static class SelfEstimates<TRecord>
    {
        public static readonly Func<TRecord, int>? Tokens = Bind(typeof(ITokenEstimator), nameof(TokensOf));

        public static readonly Func<TRecord, int>? Cost = Bind(typeof(ICostEstimator), nameof(CostOf));

        private static Func<TRecord, int>? Bind(Type estimator, string method) =>
            estimator.IsAssignableFrom(typeof(TRecord))
                ? typeof(CostEstimation).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
                    .MakeGenericMethod(typeof(TRecord))
                    .CreateDelegate<Func<TRecord, int>>()
                : null;
    }

    private static int TokensOf<T>(T record)
        where T : ITokenEstimator => record.EstimateTokens();

    private static int CostOf<T>(T record)
        where T : ICostEstimator => record.EstimateCost();

    private static int Checked(int estimate, string source) => estimate >= 0
        ? estimate
        : throw new InvalidOperationException(
            $"{source} returned {estimate} for a record; an estimated cost must be zero or more.");
}
