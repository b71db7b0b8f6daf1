using CsCheck;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Linearizability;

/// <summary>
/// Linearizability of the two rings: CsCheck runs a random sequential prefix of operations, then a random set of
/// operations on several threads at once, and accepts the run only if some interleaving of those operations (keeping
/// each thread's order) run on the sequential model gives exactly the same outcomes and final state. Failures shrink
/// to the smallest operation sequence and print a seed that replays them.
/// </summary>
/// <remarks>
/// Rings are kept small (limits 1 to 5) so that fullness, wrap-around and slot reuse happen in nearly every sequence.
/// </remarks>
public class RingLinearizabilityTests(ITestOutputHelper output)
{
    /// <summary>Generated operation sequences per ring and per run.</summary>
    public const int Sequences = 2_500;

    private const int Threads = 3;
    private const int MaxParallel = 6;

    [Fact]
    public void IntakeRing_ManyProducersOneConsumer_IsLinearizable()
    {
        long before = IntakeRingActual.OperationsRun;
        Gen.Int[1, 5].Select(limit => (new IntakeRingActual(limit), new IntakeRingModel(limit)))
            .SampleParallel(
                [
                    Gen.Int[0, 99].Operation<IntakeRingActual, IntakeRingModel>(
                        v => $"Enqueue({v})", (ring, v) => ring.Enqueue(v), (model, v) => model.Enqueue(v)),
                    Gen.Int[100, 199].Operation<IntakeRingActual, IntakeRingModel>(
                        v => $"Enqueue({v})", (ring, v) => ring.Enqueue(v), (model, v) => model.Enqueue(v)),
                    Gen.Int[200, 299].Operation<IntakeRingActual, IntakeRingModel>(
                        v => $"Enqueue({v})", (ring, v) => ring.Enqueue(v), (model, v) => model.Enqueue(v)),
                    Gen.Operation<IntakeRingActual, IntakeRingModel>("Dequeue", ring => ring.Dequeue(), model => model.Dequeue()),
                    Gen.Operation<IntakeRingActual, IntakeRingModel>("Dequeue", ring => ring.Dequeue(), model => model.Dequeue()),
                    Gen.Operation<IntakeRingActual, IntakeRingModel>(
                        "PublishHead", ring => ring.PublishHead(), model => model.PublishHead()),
                    Gen.Operation<IntakeRingActual, IntakeRingModel>(
                        "IsDrainedAfterClose", ring => ring.CheckDrained(), model => model.CheckDrained()),
                    Gen.Operation<IntakeRingActual, IntakeRingModel>("Close", ring => ring.Close(), model => model.Close()),
                ],
                equal: (actual, model) => actual.Final.SameAs(model.Final),
                maxParallelOperations: MaxParallel,
                iter: Sequences,
                threads: Threads,
                writeLine: output.WriteLine);
        long operations = IntakeRingActual.OperationsRun - before;
        output.WriteLine($"intake ring: {Sequences:N0} sequences, {operations:N0} operations checked");
        Assert.True(operations >= Sequences * 2L, "every sequence runs at least two parallel operations");
    }

    [Fact]
    public void BatchRing_OneProducerManyConsumers_IsLinearizable()
    {
        long before = BatchRingActual.OperationsRun;
        Gen.Int[1, 5].Select(limit => (new BatchRingActual(limit), new BatchRingModel(limit)))
            .SampleParallel(
                [
                    Gen.Int[0, 99].Operation<BatchRingActual, BatchRingModel>(
                        v => $"Enqueue({v})", (ring, v) => ring.Enqueue(v), (model, v) => model.Enqueue(v)),
                    Gen.Int[100, 199].Operation<BatchRingActual, BatchRingModel>(
                        v => $"Enqueue({v})", (ring, v) => ring.Enqueue(v), (model, v) => model.Enqueue(v)),
                    Gen.Operation<BatchRingActual, BatchRingModel>("Dequeue", ring => ring.Dequeue(), model => model.Dequeue()),
                    Gen.Operation<BatchRingActual, BatchRingModel>("Dequeue", ring => ring.Dequeue(), model => model.Dequeue()),
                ],
                equal: (actual, model) => actual.Final.SameAs(model.Final),
                maxParallelOperations: MaxParallel,
                iter: Sequences,
                threads: Threads,
                writeLine: output.WriteLine);
        long operations = BatchRingActual.OperationsRun - before;
        output.WriteLine($"batch ring: {Sequences:N0} sequences, {operations:N0} operations checked");
        Assert.True(operations >= Sequences * 2L, "every sequence runs at least two parallel operations");
    }

    [Fact]
    public void TheModelsCatchARingThatBreaksItsContract()
    {
        // The comparison has teeth: a model that disagrees with the ring by one item must be rejected.
        var ring = new IntakeRingActual(2);
        var model = new IntakeRingModel(2);
        ring.Enqueue(1);
        ring.Enqueue(2);
        ring.Enqueue(3); // full: the consumer has not published its head
        model.Enqueue(1);
        model.Enqueue(2);
        model.Enqueue(3);
        ring.Dequeue();
        model.Dequeue();
        Assert.True(ring.Final.SameAs(model.Final), $"{ring} vs {model}");

        var lossy = new IntakeRingModel(2);
        lossy.Enqueue(1);
        lossy.Enqueue(2);
        lossy.Enqueue(3);
        lossy.Dequeue();
        lossy.Dequeue(); // one dequeue too many: the ring still holds "2"
        Assert.False(ring.Final.SameAs(lossy.Final));

        var batches = new BatchRingActual(1);
        var batchModel = new BatchRingModel(1);
        batches.Enqueue(7);
        batches.Enqueue(8); // full
        batchModel.Enqueue(7);
        batchModel.Enqueue(8);
        Assert.True(batches.Final.SameAs(batchModel.Final), $"{batches} vs {batchModel}");
        var unbounded = new BatchRingModel(2);
        unbounded.Enqueue(7);
        unbounded.Enqueue(8);
        Assert.False(batches.Final.SameAs(unbounded.Final));
    }
}
