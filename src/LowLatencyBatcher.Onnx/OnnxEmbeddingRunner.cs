using Microsoft.ML.OnnxRuntime;

namespace LowLatencyBatcher.Onnx;

/// <summary>
/// Runs a BERT-style ONNX model (inputs <c>input_ids</c>, <c>attention_mask</c> and, when the model has it,
/// <c>token_type_ids</c>) on batches of tokenized records with ONNX Runtime, and gives each record its mean-pooled,
/// normalised embedding. <see cref="ProcessAsync"/> is a <see cref="ProcessFn{TRecord, TResult}"/> for a
/// <see cref="TokenBatcher{TRecord, TResult}"/>: it pads the batch to its longest record, runs it once on the calling
/// worker (one batch at a time by default; see <see cref="OnnxEmbeddingRunnerOptions.MaxConcurrentRuns"/>), and cuts
/// the output per record.
/// </summary>
/// <typeparam name="TRecord">The record type; <c>ids</c> (given to the constructor) reads its token ids.</typeparam>
public sealed class OnnxEmbeddingRunner<TRecord> : IDisposable
{
    private const string InputIds = "input_ids";
    private const string AttentionMask = "attention_mask";
    private const string TokenTypeIds = "token_type_ids";

    private readonly InferenceSession _session;
    private readonly Func<TRecord, ReadOnlyMemory<int>> _ids;
    private readonly OnnxEmbeddingRunnerOptions _options;
    private readonly bool _hasTokenTypes;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly SemaphoreSlim _turns;
    private long _batches;
    private long _tokens;
    private long _paddedTokens;
    private int _disposed;

    /// <summary>Loads the model at <paramref name="modelPath"/> into an ONNX Runtime session on the CPU.</summary>
    /// <param name="modelPath">The <c>.onnx</c> file.</param>
    /// <param name="ids">Reads a record's token ids (special tokens included); the memory must not change until its result is produced.</param>
    /// <param name="options">Settings; defaults when <see langword="null"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or lacks the inputs or the output named above.</exception>
    public OnnxEmbeddingRunner(string modelPath, Func<TRecord, ReadOnlyMemory<int>> ids, OnnxEmbeddingRunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(ids);
        _options = options ?? new OnnxEmbeddingRunnerOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.IntraOpThreads, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxConcurrentRuns, 1, nameof(options));
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The ONNX model '{modelPath}' does not exist.", modelPath);
        }

        _ids = ids;
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = _options.IntraOpThreads,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", _options.AllowSpinning ? "1" : "0");
        try
        {
            _session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException error)
        {
            throw new InvalidDataException($"'{modelPath}' could not be loaded as an ONNX model: {error.Message}", error);
        }

        try
        {
            foreach (string required in new[] { InputIds, AttentionMask })
            {
                if (!_session.InputMetadata.ContainsKey(required))
                {
                    throw new InvalidDataException($"'{modelPath}' has no input '{required}'; it has {string.Join(", ", _session.InputMetadata.Keys)}.");
                }
            }

            if (!_session.OutputMetadata.TryGetValue(_options.OutputName, out NodeMetadata? output))
            {
                throw new InvalidDataException($"'{modelPath}' has no output '{_options.OutputName}'; it has {string.Join(", ", _session.OutputMetadata.Keys)}.");
            }

            Dimensions = output.Dimensions[^1];
            _hasTokenTypes = _session.InputMetadata.ContainsKey(TokenTypeIds);
            _inputNames = _hasTokenTypes ? [InputIds, AttentionMask, TokenTypeIds] : [InputIds, AttentionMask];
            _outputNames = [_options.OutputName];
            _turns = new SemaphoreSlim(_options.MaxConcurrentRuns, _options.MaxConcurrentRuns);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>The width of the embeddings.</summary>
    public int Dimensions { get; }

    /// <summary>Batches run so far (successfully or not).</summary>
    public long BatchesProcessed => Interlocked.Read(ref _batches);

    /// <summary>Real tokens over token positions sent to the model (real plus padding), over all batches so far; 1 before the first.</summary>
    public double PaddingEfficiency
    {
        get
        {
            long padded = Interlocked.Read(ref _paddedTokens);
            return padded == 0 ? 1 : (double)Interlocked.Read(ref _tokens) / padded;
        }
    }

    /// <summary>Runs one batch; result <c>i</c> belongs to record <c>i</c>. Matches <see cref="ProcessFn{TRecord, TResult}"/>.</summary>
    /// <param name="batch">The records; read only during this call.</param>
    /// <param name="cancellationToken">Cancels the batch if it has not started running.</param>
    public ValueTask<IReadOnlyList<float[]>> ProcessAsync(IReadOnlyList<TRecord> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (batch.Count == 0)
        {
            return new ValueTask<IReadOnlyList<float[]>>(Array.Empty<float[]>());
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<float[]>>(cancellationToken);
        }

        // The common case, a free turn, runs on the calling worker without an await.
        if (_turns.Wait(0, CancellationToken.None))
        {
            return RunTurn(batch);
        }

        return WaitAndRunAsync(batch, cancellationToken);
    }

    private ValueTask<IReadOnlyList<float[]>> RunTurn(IReadOnlyList<TRecord> batch)
    {
        try
        {
            return new ValueTask<IReadOnlyList<float[]>>(Run(batch));
        }
        catch (Exception error)
        {
            return ValueTask.FromException<IReadOnlyList<float[]>>(error);
        }
        finally
        {
            _turns.Release();
            Interlocked.Increment(ref _batches);
        }
    }

    private async ValueTask<IReadOnlyList<float[]>> WaitAndRunAsync(IReadOnlyList<TRecord> batch, CancellationToken cancellationToken)
    {
        await _turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await RunTurn(batch).ConfigureAwait(false);
    }

    private float[][] Run(IReadOnlyList<TRecord> batch)
    {
        int count = batch.Count;
        var lengths = new int[count];
        int padded = 1;
        for (int i = 0; i < count; i++)
        {
            lengths[i] = _ids(batch[i]).Length;
            padded = Math.Max(padded, lengths[i]);
        }

        var ids = new long[count * padded];
        var mask = new long[count * padded];
        long realTokens = 0;
        for (int row = 0; row < count; row++)
        {
            ReadOnlySpan<int> tokens = _ids(batch[row]).Span;
            if (tokens.Length != lengths[row])
            {
                throw new InvalidOperationException($"Record {row}'s token ids changed while its batch was being packed.");
            }

            Span<long> idRow = ids.AsSpan(row * padded, padded);
            Span<long> maskRow = mask.AsSpan(row * padded, padded);
            for (int t = 0; t < tokens.Length; t++)
            {
                idRow[t] = tokens[t];
                maskRow[t] = 1;
            }

            idRow[tokens.Length..].Fill(_options.PaddingId);
            realTokens += tokens.Length;
        }

        Interlocked.Add(ref _tokens, realTokens);
        Interlocked.Add(ref _paddedTokens, (long)count * padded);

        long[] shape = [count, padded];
        using OrtValue idValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using OrtValue maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using OrtValue? typeValue = _hasTokenTypes ? OrtValue.CreateTensorValueFromMemory(new long[count * padded], shape) : null;
        OrtValue[] inputs = typeValue is null ? [idValue, maskValue] : [idValue, maskValue, typeValue];

        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
        OrtValue output = outputs[0];
        long[] outputShape = output.GetTensorTypeAndShape().Shape;
        return Pooling.Embeddings(output.GetTensorDataAsSpan<float>(), outputShape, lengths, _options.Normalize);
    }

    /// <summary>Releases the ONNX Runtime session. Batches already running finish first only if their callers wait for them.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _session.Dispose();
        _turns.Dispose();
    }
}
