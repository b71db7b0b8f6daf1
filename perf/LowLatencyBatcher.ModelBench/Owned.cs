namespace LowLatencyBatcher.ModelBench;

/// <summary>Disposes several things in order.</summary>
internal sealed class Owned(params IDisposable[] items) : IDisposable
{
    public void Dispose()
    {
        foreach (IDisposable item in items)
        {
            item.Dispose();
        }
    }
}
