using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Streams;
using TorchSharp;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Runner;

/// <summary>
/// Runs a TorchSharp module on batches of <see cref="TokenSequence"/> records; <see cref="ProcessAsync"/> is a
/// <see cref="ProcessFn{TRecord, TResult}"/> for a <see cref="TokenBatcher{TRecord, TResult}"/>.
/// </summary>
/// <remarks>
/// <para>
/// The module gets <c>ids</c> (<c>[B, L]</c>, <c>int64</c>, padded with <see cref="TokenBatchRunnerOptions.PaddingId"/>)
/// and <c>mask</c> (<c>[B, L]</c>, <c>bool</c>, true at real tokens), and returns a floating-point tensor whose
/// rows are cut out per record (see <see cref="TokenBatchRunnerOptions.PerTokenOutput"/>).
/// </para>
/// <para>
/// Two dedicated threads form a two-stage pipeline over two staging slots. The copy thread packs batch
/// <c>k+1</c> into the other slot's staging buffer and issues its host-to-device copy on the copy stream while
/// the compute thread runs batch <c>k</c> on the compute stream. Events order each copy before its
/// computation and each computation before the next copy into the same device buffer; a staging buffer is
/// rewritten only after the event marking its previous copy has completed. All device work is issued from
/// those two threads, never across an <c>await</c>, because stream selection is per thread. For the two batches
/// to overlap, the batcher must have two batches in flight (for example two workers).
/// </para>
/// </remarks>
public sealed class TokenBatchRunner : IDisposable
{
    private const int SlotCount = 2;

    private readonly nn.Module<Tensor, Tensor, Tensor> _model;
    private readonly TokenBatchRunnerOptions _options;
    private readonly IStreamBackend _backend;
    private readonly bool _ownsBackend;
    private readonly IDeviceStream _copyStream;
    private readonly IDeviceStream _computeStream;
    private readonly StagingSlot[] _slots;
    private readonly BlockingCollection<BatchWork> _toCopy = new();
    private readonly BlockingCollection<BatchWork> _toCompute = new();
    private readonly Thread _copyThread;
    private readonly Thread _computeThread;
    private long _batches;
    private long _tokens;
    private long _paddedTokens;
    private int _disposed;

    /// <summary>Moves <paramref name="model"/> to the device, switches it to evaluation mode, and starts the pipeline.</summary>
    /// <param name="model">The module; the runner uses it but does not dispose it.</param>
    /// <param name="options">Settings; defaults when <see langword="null"/>.</param>
    public TokenBatchRunner(nn.Module<Tensor, Tensor, Tensor> model, TokenBatchRunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options = options ?? new TokenBatchRunnerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBatchSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.InitialSequenceLength, 1, nameof(options));
        if (_options.VocabularySize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.VocabularySize, "VocabularySize must be at least 1 when set.");
        }

        TorchNative.EnsureLoaded();
        _backend = _options.StreamBackend ?? TorchDevices.CreateStreamBackend(TorchDevices.Resolve(_options.Device));
        _ownsBackend = _options.StreamBackend is null;
        Device = _backend.Device;

        _model = model;
        _model.to(Device);
        _model.eval();

        _copyStream = _backend.CreateStream("copy");
        _computeStream = _backend.CreateStream("compute");
        _slots = new StagingSlot[SlotCount];
        for (int i = 0; i < SlotCount; i++)
        {
            _slots[i] = new StagingSlot(_backend, _copyStream, i, _options.MaxBatchSize, _options.InitialSequenceLength);
        }

        _copyThread = new Thread(CopyLoop) { IsBackground = true, Name = "TokenBatchRunner copy" };
        _computeThread = new Thread(ComputeLoop) { IsBackground = true, Name = "TokenBatchRunner compute" };
        _copyThread.Start();
        _computeThread.Start();
    }

    /// <summary>The device the model runs on.</summary>
    public Device Device { get; }

    /// <summary>Batches completed so far (successfully or not).</summary>
    public long BatchesProcessed => Interlocked.Read(ref _batches);

    /// <summary>
    /// Real tokens over token positions sent to the model (real plus padding), over all batches so far; 1 before
    /// the first batch. Batches of similar lengths waste less.
    /// </summary>
    public double PaddingEfficiency
    {
        get
        {
            long padded = Interlocked.Read(ref _paddedTokens);
            return padded == 0 ? 1 : (double)Interlocked.Read(ref _tokens) / padded;
        }
    }

    /// <summary>Total reallocations of staging and device buffers (growth for longer batches).</summary>
    public int BufferReallocations => _slots.Sum(slot => slot.Reallocations);

    /// <summary>Runs one batch; result <c>i</c> belongs to record <c>i</c>. Matches <see cref="ProcessFn{TRecord, TResult}"/>.</summary>
    /// <param name="batch">The records; read only until this call completes.</param>
    /// <param name="cancellationToken">Cancels the batch if it has not started computing.</param>
    /// <returns>
    /// The results; faulted with an <see cref="ArgumentOutOfRangeException"/> naming the record when
    /// <see cref="TokenBatchRunnerOptions.VocabularySize"/> is set and a record has an id outside it (then nothing of
    /// the batch reaches the device; <see cref="ProcessEachAsync"/> fails that record alone).
    /// </returns>
    public ValueTask<IReadOnlyList<float[]>> ProcessAsync(IReadOnlyList<TokenSequence> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (batch.Count > _options.MaxBatchSize)
        {
            throw new ArgumentException($"The batch holds {batch.Count} records; the runner was sized for {_options.MaxBatchSize}.", nameof(batch));
        }

        if (_options.VocabularySize is int vocabulary)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                if (TokenIdCheck.Check(batch[i], i, vocabulary) is { } error)
                {
                    return ValueTask.FromException<IReadOnlyList<float[]>>(error);
                }
            }
        }
        return Enqueue(batch, cancellationToken);
    }

    /// <summary>
    /// Runs one batch record by record; matches <see cref="ProcessEachFn{TRecord, TResult}"/>. A record whose ids
    /// lie outside <see cref="TokenBatchRunnerOptions.VocabularySize"/> fails alone with an
    /// <see cref="ArgumentOutOfRangeException"/> naming it and its id; the others are packed and run together.
    /// </summary>
    /// <param name="batch">The records and their outcomes.</param>
    /// <param name="cancellationToken">Cancels the batch if it has not started computing.</param>
    public async ValueTask ProcessEachAsync(IRecordBatch<TokenSequence, float[]> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var valid = new List<TokenSequence>(batch.Count);
        var origins = new List<int>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            if (_options.VocabularySize is int vocabulary && TokenIdCheck.Check(batch[i], i, vocabulary) is { } error)
            {
                batch.SetException(i, error);
                continue;
            }
            valid.Add(batch[i]);
            origins.Add(i);
        }
        if (valid.Count == 0)
        {
            return;
        }

        IReadOnlyList<float[]> results = await Enqueue(valid, cancellationToken).ConfigureAwait(false);
        for (int row = 0; row < results.Count; row++)
        {
            batch.SetResult(origins[row], results[row]);
        }
    }

    private ValueTask<IReadOnlyList<float[]>> Enqueue(IReadOnlyList<TokenSequence> batch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (batch.Count == 0)
        {
            return new ValueTask<IReadOnlyList<float[]>>(Array.Empty<float[]>());
        }

        if (batch.Count > _options.MaxBatchSize)
        {
            throw new ArgumentException($"The batch holds {batch.Count} records; the runner was sized for {_options.MaxBatchSize}.", nameof(batch));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<float[]>>(cancellationToken);
        }

        var work = new BatchWork(batch, cancellationToken);
        try
        {
            _toCopy.Add(work, CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(TokenBatchRunner));
        }
        return new ValueTask<IReadOnlyList<float[]>>(work.Completion.Task);
    }

    private void CopyLoop()
    {
        _backend.BindCurrentThread();
        long sequence = 0;
        try
        {
            foreach (BatchWork work in _toCopy.GetConsumingEnumerable())
            {
                StagingSlot slot = _slots[sequence % SlotCount];
                work.Sequence = sequence++;
                slot.Permit.Wait();
                try
                {
                    work.CancellationToken.ThrowIfCancellationRequested();
                    Stage(work, slot);
                    _toCompute.Add(work);
                }
                catch (Exception exception)
                {
                    slot.Permit.Release();
                    Complete(work, exception);
                }
            }
        }
        finally
        {
            _toCompute.CompleteAdding();
        }
    }

    private void Stage(BatchWork work, StagingSlot slot)
    {
        // The staging buffer may still be the source of the slot's previous copy: wait for it on the host.
        slot.CopyDone.Synchronize();

        work.Slot = slot;
        work.PaddedLength = BatchPacker.PaddedLength(work.Records);
        long elements = BatchPacker.PackedElements(work.Records.Count, work.PaddedLength);
        slot.EnsureCapacity(elements, work.PaddedLength);

        _options.Observer?.Packing(slot.Index, work.Sequence);
        work.Lengths = BatchPacker.Pack(work.Records, work.PaddedLength, _options.PaddingId, slot.StagingSpan(elements));
        Interlocked.Add(ref _tokens, work.Lengths.Sum(length => (long)length));
        Interlocked.Add(ref _paddedTokens, (long)work.Lengths.Length * work.PaddedLength);

        // The device buffer may still be read by the slot's previous computation: order the copy after it.
        _copyStream.Wait(slot.ComputeDone);
        using (Tensor source = slot.StagingView(elements))
        using (Tensor destination = slot.DeviceView(elements))
        {
            _backend.Copy(_copyStream, source, destination);
        }

        _copyStream.Record(slot.CopyDone);
    }

    private void ComputeLoop()
    {
        _backend.BindCurrentThread();
        foreach (BatchWork work in _toCompute.GetConsumingEnumerable())
        {
            StagingSlot slot = work.Slot!;
            bool issued = false;
            try
            {
                _computeStream.Wait(slot.CopyDone);
                work.CancellationToken.ThrowIfCancellationRequested();
                issued = true;
                IReadOnlyList<float[]> results = _backend.Compute(_computeStream, () => Run(work, slot));
                _computeStream.Record(slot.ComputeDone);
                Complete(work, results);
            }
            catch (Exception exception)
            {
                if (issued)
                {
                    _computeStream.Record(slot.ComputeDone);
                }

                Complete(work, exception);
            }
            finally
            {
                slot.Permit.Release();
            }
        }
    }

    private float[][] Run(BatchWork work, StagingSlot slot)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();

        int batch = work.Lengths.Length;
        int length = work.PaddedLength;
        Tensor packed = slot.DeviceView(work.PackedElements);
        Tensor lengths = packed.narrow(0, 0, batch);
        Tensor ids = packed.narrow(0, batch, (long)batch * length).view(batch, length);
        Tensor positions = arange(length, int64, Device);
        Tensor mask = positions.unsqueeze(0).lt(lengths.unsqueeze(1));

        Tensor output = _model.forward(ids, mask);
        // On the compute stream, so the device-to-host copy is ordered after the forward pass.
        Tensor host = output.to(float32).cpu().contiguous();
        return OutputSlicer.Slice(MemoryMarshal.Cast<byte, float>(host.bytes), host.shape, work.Lengths, _options.PerTokenOutput);
    }

    private void Complete(BatchWork work, IReadOnlyList<float[]> results)
    {
        Interlocked.Increment(ref _batches);
        work.Completion.TrySetResult(results);
    }

    private void Complete(BatchWork work, Exception exception)
    {
        Interlocked.Increment(ref _batches);
        work.Fail(exception);
    }

    /// <summary>Finishes the batches already submitted, stops the threads, and frees the buffers, streams and events.</summary>
    /// <remarks>
    /// Every buffer, event and stream is released even when a step fails (after a sticky CUDA error every device
    /// call does); the first failure is thrown once all of it is done.
    /// </remarks>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _toCopy.CompleteAdding();
        _copyThread.Join();
        _computeThread.Join();
        var cleanup = new CleanupSequence();
        cleanup.Run(_copyStream.Synchronize);
        cleanup.Run(_computeStream.Synchronize);
        foreach (StagingSlot slot in _slots)
        {
            slot.Release(cleanup);
        }

        cleanup.Dispose(_copyStream);
        cleanup.Dispose(_computeStream);
        if (_ownsBackend)
        {
            cleanup.Dispose(_backend);
        }

        cleanup.Dispose(_toCopy);
        cleanup.Dispose(_toCompute);
        cleanup.ThrowIfFailed();
    }
}
