namespace LowLatencyBatcher;

/// <summary>How the cost of a batch follows from the costs of its records.</summary>
public enum CostModel
{
    /// <summary>The sum of the records' costs (plus <c>PerBatchCost</c>): right when padding is free or absent.</summary>
    Sum,

    /// <summary>
    /// The costliest record's cost times the number of records (plus <c>PerBatchCost</c>): what a padded tensor of
    /// token ids really holds, so a long record makes the whole batch costly.
    /// </summary>
    Padded,
}
