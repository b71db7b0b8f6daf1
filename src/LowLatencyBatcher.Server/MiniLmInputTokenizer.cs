using LowLatencyBatcher.Torch.Models;

namespace LowLatencyBatcher.Server;

/// <summary>The all-MiniLM-L6-v2 tokenizer behind <see cref="IInputTokenizer"/>: <c>[CLS]</c> … <c>[SEP]</c>, never cut.</summary>
internal sealed class MiniLmInputTokenizer(MiniLmTokenizer tokenizer) : IInputTokenizer
{
    public int[] Encode(string text) => tokenizer.EncodeAll(text);
}
