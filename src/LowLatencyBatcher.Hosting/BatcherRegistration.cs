namespace LowLatencyBatcher.Hosting;

/// <summary>One batcher registered in a service collection: its name (the options name, log and metric tag) and types.</summary>
internal sealed record BatcherRegistration(string Name, Type RecordType, Type ResultType, bool IsTokenBatcher);
