/*
 * A stand-in for libcudart with the calls the stream seam binds, for testing the binding on machines without CUDA.
 * It keeps a per-thread current device like the real runtime, remembers on which device and with which flags the
 * last stream and event were made, and fails cudaEventDestroy with error 710 (as after a device-side assert).
 * It has no cudaEventElapsedTime and no cudaGetErrorString. Built with -DFAKE_WITHOUT_GET_DEVICE it also lacks
 * cudaGetDevice, a call the seam needs.
 */
#include <stdint.h>

static __thread int current_device = 0;
static int last_stream_device = -1;
static unsigned last_stream_flags = 0;
static int last_event_device = -1;
static unsigned last_event_flags = 0;
static uintptr_t next_handle = 0x1000;

#ifndef FAKE_WITHOUT_GET_DEVICE
int cudaGetDevice(int* device) { *device = current_device; return 0; }
#endif
int cudaSetDevice(int device) { if (device < 0 || device > 3) return 101; current_device = device; return 0; }
int cudaStreamCreateWithFlags(void** stream, unsigned flags)
{
    last_stream_device = current_device;
    last_stream_flags = flags;
    *stream = (void*)(next_handle += 0x10);
    return 0;
}
int cudaStreamDestroy(void* stream) { (void)stream; return 0; }
int cudaStreamSynchronize(void* stream) { (void)stream; return 0; }
int cudaStreamWaitEvent(void* stream, void* event, unsigned flags) { (void)stream; (void)event; (void)flags; return 0; }
int cudaEventCreateWithFlags(void** event, unsigned flags)
{
    last_event_device = current_device;
    last_event_flags = flags;
    *event = (void*)(next_handle += 0x10);
    return 0;
}
int cudaEventRecord(void* event, void* stream) { (void)event; (void)stream; return 0; }
int cudaEventQuery(void* event) { (void)event; return 600; }
int cudaEventSynchronize(void* event) { (void)event; return 0; }
int cudaEventDestroy(void* event) { (void)event; return 710; }

int fake_last_stream_device(void) { return last_stream_device; }
unsigned fake_last_stream_flags(void) { return last_stream_flags; }
int fake_last_event_device(void) { return last_event_device; }
unsigned fake_last_event_flags(void) { return last_event_flags; }
