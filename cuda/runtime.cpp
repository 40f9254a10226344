// cuda/runtime.cpp -- devices, streams, cuBLAS handles, pinned memory and copies through the CUDA
// runtime API. Device memory is in cuda/allocator.cpp.
#include "cuda/runtime.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/check.h"
#include "cuda/stream.h"

namespace atto::cuda {

int device_count() {
  static const int n = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();   // clear the sticky "no device" error
      return 0;
    }
    return count;
  }();
  return n;
}

void check_device(int device) {
  ATTO_CHECK(device >= 0 && device < device_count(), "[cuda] device cuda:{} does not exist ({} device(s) found)",
             device, device_count());
}

std::string device_name(int index) {
  check_device(index);
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.name;
}

namespace {

struct PerDevice {
  std::once_flag once;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
};

std::atomic<bool> g_allow_tf32{false};

PerDevice& per_device(int device) {
  static std::vector<std::unique_ptr<PerDevice>> all = [] {
    std::vector<std::unique_ptr<PerDevice>> v;
    for (int i = 0; i < device_count(); ++i) v.push_back(std::make_unique<PerDevice>());
    return v;
  }();
  check_device(device);
  PerDevice& d = *all[device];
  std::call_once(d.once, [&] {
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&d.cublas));
    CUBLAS_CHECK(cublasSetStream(d.cublas, d.stream));
  });
  return d;
}

void make_current(int device) {
  thread_local int current = -1;
  if (current != device) {
    CUDA_CHECK(cudaSetDevice(device));
    current = device;
  }
}

}  // namespace

cudaStream_t stream(int device) {
  PerDevice& d = per_device(device);
  make_current(device);
  return d.stream;
}

cublasHandle_t cublas(int device) {
  PerDevice& d = per_device(device);
  make_current(device);
  // Pedantic math keeps float32 gemm in full float32 (no TF32, no reduced-precision reductions).
  CUBLAS_CHECK(cublasSetMathMode(d.cublas, g_allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  return d.cublas;
}

int device_of(const void* ptr) {
  if (device_count() == 1) return 0;   // the common case costs nothing
  cudaPointerAttributes attr{};
  CUDA_CHECK(cudaPointerGetAttributes(&attr, ptr));
  ATTO_CHECK(attr.type == cudaMemoryTypeDevice, "[cuda] pointer {} is not device memory", ptr);
  return attr.device;
}

void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool allow_tf32() { return g_allow_tf32; }

void* pinned_alloc(size_t nbytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaHostAlloc(&p, std::max<size_t>(nbytes, 1), cudaHostAllocDefault));
  return p;
}

void pinned_free(void* ptr) {
  if (ptr) CUDA_CHECK(cudaFreeHost(ptr));   // waits for copies still reading the buffer
}

void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device, bool non_blocking) {
  cudaStream_t s = stream(device);
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, s));
  // A device-to-device copy stays in stream order like any kernel; a copy from or to pageable host
  // memory must finish before the caller may reuse (or read) the host buffer.
  if (kind != CopyKind::DeviceToDevice && !non_blocking) CUDA_CHECK(cudaStreamSynchronize(s));
}

void synchronize(int device) { CUDA_CHECK(cudaStreamSynchronize(stream(device))); }

}  // namespace atto::cuda
