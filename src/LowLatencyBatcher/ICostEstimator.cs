namespace LowLatencyBatcher;

/// <summary>
/// Implemented by a record type that knows its own cost. Used when a submit gives no explicit estimate and the
/// options give no estimator function.
/// </summary>
public interface ICostEstimator
{
    /// <summary>Returns the cost of this record (zero or more).</summary>
    int EstimateCost();
}

/// <summary>
/// Implemented by a record type that knows its own token count. A <see cref="TokenBatcher{TRecord, TResult}"/>
/// prefers it over <see cref="ICostEstimator"/>.
/// </summary>
public interface ITokenEstimator
{
    /// <summary>Returns the number of tokens of this record (zero or more).</summary>
    int EstimateTokens();
}
