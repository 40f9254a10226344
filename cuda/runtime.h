// cuda/runtime.h -- the CUDA runtime as the tensor layer sees it: devices, memory, host<->device
// copies, synchronisation. Compiled only in CUDA builds (ATTO_CUDA=AUTO finds nvcc, or ON). Free of
// CUDA types and of the Tensor class, so any .cpp may include it; kernels use cuda/stream.h.
//
// NOTE [ One stream per device ]
// Every kernel, cuBLAS call and copy of device N runs on one stream of N (cuda/stream.h). Work on a
// stream runs in issue order, so a freed block can be handed to the next allocation at once: any
// kernel that will write it is queued after every kernel that read it. The host waits only where
// it reads device data (a copy to the CPU, item(), printing) or asks to (synchronize()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace atto::cuda {

int device_count();                    // 0 when the driver or the GPU is missing (never throws)
std::string device_name(int index);
void check_device(int device);         // throws atto::Error naming the device and the count

// Device memory from the caching allocator (cuda/allocator.cpp): freed blocks are kept and reused.
void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);

// Page-locked host memory: the only host memory a copy can overlap with compute from.
void* pinned_alloc(size_t nbytes);
void pinned_free(void* ptr);

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Copies on `device`'s stream. Blocking (returns when the bytes have arrived) unless non_blocking,
// which is honoured only when the host side is pinned memory: then the host must not touch the
// buffer until synchronize(device).
void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device, bool non_blocking = false);
void synchronize(int device);

// What the caching allocator holds (torch.cuda.memory_stats's main counters).
struct MemoryStats {
  int64_t allocated_bytes = 0;        // in blocks handed out now (rounded sizes)
  int64_t reserved_bytes = 0;         // obtained from cudaMalloc and not yet returned
  int64_t peak_allocated_bytes = 0;   // max of allocated_bytes since the last reset
  int64_t num_allocs = 0;             // device_alloc calls
  int64_t num_cuda_mallocs = 0;       // of those, how many had to call cudaMalloc
  int64_t num_cuda_frees = 0;         // cudaFree calls (empty_cache, or a retry after out-of-memory)
};
MemoryStats memory_stats(int device);
void reset_peak_memory_stats(int device);
void empty_cache();   // returns every cached, unused block of every device to the driver

// TF32 tensor cores for float32 gemm: off by default so GPU results compare with the CPU's.
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace atto::cuda
