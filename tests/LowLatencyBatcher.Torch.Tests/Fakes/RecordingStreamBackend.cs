using LowLatencyBatcher.Torch.Runner;
using LowLatencyBatcher.Torch.Streams;
using TorchSharp;

namespace LowLatencyBatcher.Torch.Tests.Fakes;

/// <summary>One logged operation of the pipeline.</summary>
/// <param name="Kind">pack, copy, compute-begin, compute-end, record, wait, sync (an event's host wait),
/// stream-sync, alloc-device or dispose.</param>
/// <param name="Stream">The stream of a copy, record, wait, stream-sync, alloc-device or stream dispose; empty otherwise.</param>
/// <param name="Event">The event of a record, wait, sync or event dispose; empty otherwise.</param>
/// <param name="Generation">For record: the generation it creates; for wait and sync: the one they refer to.</param>
/// <param name="Batch">The batch of a pack, copy or compute; -1 otherwise.</param>
/// <param name="Slot">The slot of a pack; -1 otherwise.</param>
public sealed record Op(string Kind, string Stream, string Event, int Generation, long Batch, int Slot);

/// <summary>
/// A stream backend that runs everything on the CPU, like <see cref="CpuStreamBackend"/>, and logs every
/// copy, computation, event record, stream wait and host synchronisation in one totally ordered log.
/// Events count their records (generations), so a wait can be matched to the record it observes.
/// </summary>
internal sealed class RecordingStreamBackend : IStreamBackend, IPipelineObserver
{
    private readonly CpuStreamBackend _inner = new();
    private readonly List<Op> _log = [];
    private long _copies;
    private long _computes;

    /// <summary>Runs inside each computation, before the work, with the batch number.</summary>
    public Action<long>? BeforeCompute { get; set; }

    /// <summary>
    /// Asked after each stream-sync and dispose is logged: a non-null exception is thrown from that call, as a
    /// device whose context is broken by a sticky error would.
    /// </summary>
    public Func<Op, Exception?>? Fault { get; set; }

    /// <summary>How each event was asked to wait on the host, by event name.</summary>
    public IReadOnlyDictionary<string, DeviceEventWait> EventWaits
    {
        get
        {
            lock (_log)
            {
                return new Dictionary<string, DeviceEventWait>(_eventWaits);
            }
        }
    }

    private readonly Dictionary<string, DeviceEventWait> _eventWaits = [];

    public torch.Device Device => _inner.Device;

    public IReadOnlyList<Op> Log
    {
        get
        {
            lock (_log)
            {
                return [.. _log];
            }
        }
    }

    public bool Contains(Func<Op, bool> predicate)
    {
        lock (_log)
        {
            return _log.Any(predicate);
        }
    }

    private void Add(Op op)
    {
        lock (_log)
        {
            _log.Add(op);
        }
    }

    private void AddAndMaybeFail(Op op)
    {
        Add(op);
        if (Fault?.Invoke(op) is { } exception)
        {
            throw exception;
        }
    }

    public IDeviceStream CreateStream(string name) => new Stream(this, name);

    public IDeviceEvent CreateEvent(string name, DeviceEventWait hostWait)
    {
        lock (_log)
        {
            _eventWaits[name] = hostWait;
        }

        return new Event(this, name);
    }

    public torch.Tensor AllocateStaging(long elements) => _inner.AllocateStaging(elements);

    public torch.Tensor AllocateDevice(long elements, IDeviceStream stream)
    {
        Add(new Op("alloc-device", stream.Name, "", 0, -1, -1));
        return _inner.AllocateDevice(elements, stream);
    }

    public void Copy(IDeviceStream stream, torch.Tensor source, torch.Tensor destination)
    {
        Add(new Op("copy", stream.Name, "", 0, _copies++, -1));
        _inner.Copy(stream, source, destination);
    }

    public T Compute<T>(IDeviceStream stream, Func<T> work)
    {
        long batch = _computes++;
        Add(new Op("compute-begin", stream.Name, "", 0, batch, -1));
        BeforeCompute?.Invoke(batch);
        T result = _inner.Compute(stream, work);
        Add(new Op("compute-end", stream.Name, "", 0, batch, -1));
        return result;
    }

    public void Packing(int slot, long sequence) => Add(new Op("pack", "", "", 0, sequence, slot));

    public void BindCurrentThread()
    {
    }

    public void Dispose() => _inner.Dispose();

    private sealed class Stream(RecordingStreamBackend owner, string name) : IDeviceStream
    {
        public string Name => name;

        public void Record(IDeviceEvent deviceEvent)
        {
            var e = (Event)deviceEvent;
            lock (owner._log)
            {
                e.Generation++;
                owner._log.Add(new Op("record", name, e.Name, e.Generation, -1, -1));
            }
        }

        public void Wait(IDeviceEvent deviceEvent)
        {
            var e = (Event)deviceEvent;
            lock (owner._log)
            {
                owner._log.Add(new Op("wait", name, e.Name, e.Generation, -1, -1));
            }
        }

        public void Synchronize() => owner.AddAndMaybeFail(new Op("stream-sync", name, "", 0, -1, -1));

        public StreamScope Select() => default;

        public void Dispose() => owner.AddAndMaybeFail(new Op("dispose", name, "", 0, -1, -1));
    }

    private sealed class Event(RecordingStreamBackend owner, string name) : IDeviceEvent
    {
        public string Name => name;

        public int Generation { get; set; }

        public bool IsCompleted => true;

        public void Synchronize()
        {
            lock (owner._log)
            {
                owner._log.Add(new Op("sync", "", name, Generation, -1, -1));
            }
        }

        public void Dispose() => owner.AddAndMaybeFail(new Op("dispose", "", name, Generation, -1, -1));
    }
}
