using LowLatencyBatcher.Torch.Streams;
using LowLatencyBatcher.Torch.Streams.Cuda;
using LowLatencyBatcher.Torch.Tests.Fakes;

namespace LowLatencyBatcher.Torch.Tests;

/// <summary>
/// The seam's CUDA runtime binding and its streams and events, against a stand-in cudart built from C for the test
/// (a per-thread current device, flags and devices remembered, a failing cudaEventDestroy).
/// </summary>
public sealed unsafe class CudaRuntimeBindingTests(FakeCudaRuntimeLibrary fake) : IClassFixture<FakeCudaRuntimeLibrary>
{
    [Fact]
    public void ARuntimeWithoutTimingOrErrorTextExportsStillBinds()
    {
        CudaRuntime runtime = CudaRuntime.Bind(fake.Complete, "test");

        Assert.Equal(fake.Complete, runtime.LibraryPath);
        Assert.Equal("no description", runtime.Describe(710));
    }

    [Fact]
    public void AMissingRequiredExportIsNamed()
    {
        var error = Assert.Throws<EntryPointNotFoundException>(() => CudaRuntime.Bind(fake.WithoutGetDevice, "test"));
        Assert.Contains("cudaGetDevice", error.Message);
    }

    [Fact]
    public void StreamsAndEventsAreMadeOnTheirDeviceAndTheCallersDeviceIsRestored()
    {
        CudaRuntime runtime = CudaRuntime.Bind(fake.Complete, "test");
        var factory = new CudaStreamFactory(runtime, deviceIndex: 2);
        int streamDevice = -1, eventDevice = -1, after = -1;

        // The fake's current device is per thread, as CUDA's is: a fresh thread starts on device 0.
        var thread = new Thread(() =>
        {
            runtime.SetDevice(1);
            using CudaStream stream = factory.CreateStream("copy");
            streamDevice = fake.LastStreamDevice();
            CudaEvent evt = factory.CreateEvent("copy-done", DeviceEventWait.Spin);
            eventDevice = fake.LastEventDevice();
            after = runtime.GetDevice();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(2, streamDevice);
        Assert.Equal(2, eventDevice);
        Assert.Equal(1, after);
        Assert.Equal(CudaRuntime.StreamNonBlocking, fake.LastStreamFlags());
    }

    [Fact]
    public void EachEventGetsTheFlagsOfItsHostWaitAndReportsNotReady()
    {
        CudaRuntime runtime = CudaRuntime.Bind(fake.Complete, "test");
        var factory = new CudaStreamFactory(runtime, deviceIndex: 0);

        CudaEvent spinning = factory.CreateEvent("spin", DeviceEventWait.Spin);
        uint spinFlags = fake.LastEventFlags();
        CudaEvent blocking = factory.CreateEvent("block", DeviceEventWait.Block);
        uint blockFlags = fake.LastEventFlags();

        Assert.Equal(CudaRuntime.EventDisableTiming, spinFlags);
        Assert.Equal(CudaRuntime.EventDisableTiming | CudaRuntime.EventBlockingSync, blockFlags);
        Assert.False(spinning.IsCompleted); // the fake answers cudaErrorNotReady (600)
        Assert.Equal(DeviceEventWait.Block, blocking.HostWait);
    }

    [Fact]
    public void AFailingCallReportsItsNameAndCodeAndAHandleIsReleasedOnlyOnce()
    {
        CudaRuntime runtime = CudaRuntime.Bind(fake.Complete, "test");
        CudaEvent evt = new CudaStreamFactory(runtime, 0).CreateEvent("compute-done", DeviceEventWait.Block);

        var error = Assert.Throws<InvalidOperationException>(evt.Dispose);
        Assert.Equal("cudaEventDestroy failed with CUDA error 710: no description", error.Message);
        evt.Dispose(); // the handle is gone: nothing is destroyed twice
        Assert.Throws<ObjectDisposedException>(() => evt.IsCompleted);
    }
}
