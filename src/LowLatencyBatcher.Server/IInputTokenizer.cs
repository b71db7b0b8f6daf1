namespace LowLatencyBatcher.Server;

/// <summary>Turns an input text into the served model's token ids, uncut: the endpoint refuses a text that is too long.</summary>
internal interface IInputTokenizer
{
    /// <summary>All token ids of <paramref name="text"/>, in order (with the model's special tokens, if it has any).</summary>
    int[] Encode(string text);
}
