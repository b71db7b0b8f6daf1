namespace LowLatencyBatcher.Nats;

/// <summary>The headers of the wire protocol between clients and workers.</summary>
public static class WireHeaders
{
    /// <summary>On a reply or result: <see cref="StatusOk"/>, <see cref="StatusBusy"/>, <see cref="StatusError"/> or <see cref="StatusBadRequest"/>.</summary>
    public const string Status = "Llb-Status";

    /// <summary>On an error reply or result: what went wrong, one line.</summary>
    public const string Error = "Llb-Error";

    /// <summary>On a bulk record and its result: the run's id (letters and digits).</summary>
    public const string Job = "Llb-Job";

    /// <summary>On a bulk record and its result: the record's index in its run (0, 1, 2, …).</summary>
    public const string Index = "Llb-Index";

    /// <summary>On a bulk result: which delivery of the record produced it (1 for the first; more after a redelivery).</summary>
    public const string Delivery = "Llb-Delivery";

    /// <summary>On a reply or result: the worker that produced it.</summary>
    public const string Worker = "Llb-Worker";

    /// <summary>On an online request: how many milliseconds the caller still waits (the record's timeout in the batcher).</summary>
    public const string TimeoutMs = "Llb-Timeout-Ms";

    /// <summary>The result follows in the payload.</summary>
    public const string StatusOk = "ok";

    /// <summary>The worker's batcher had no room (or was not running): try again, possibly elsewhere.</summary>
    public const string StatusBusy = "busy";

    /// <summary>The record was processed and failed (the model's exception, a timeout in the queue).</summary>
    public const string StatusError = "error";

    /// <summary>The message was malformed (a payload the codec could not read, a missing header).</summary>
    public const string StatusBadRequest = "bad-request";
}
