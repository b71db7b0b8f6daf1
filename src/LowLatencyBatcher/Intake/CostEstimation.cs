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

    private static int Checked(int estimate, string source) => estimate >= 0
        ? estimate
        : throw new InvalidOperationException(
            $"{source} returned {estimate} for a record; an estimated cost must be zero or more.");
}
