// cuda/runtime.cpp -- devices, memory and copies through the CUDA runtime API.
// Memory comes straight from cudaMalloc for now; the caching allocator belongs to the CUDA backend.
#include "cuda/runtime.h"

#include "cuda/check.h"

namespace atto::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();   // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::string device_name(int index) {
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.name;
}

void* device_alloc(size_t nbytes, int device) {
  ATTO_CHECK(device >= 0 && device < device_count(), "[cuda] device cuda:{} does not exist ({} device(s) found)",
             device, device_count());
  CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(nbytes, 1)));
  return p;
}

void device_free(void* ptr, int device) {
  if (!ptr) return;
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaFree(ptr));
}

void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device) {
  CUDA_CHECK(cudaSetDevice(device));
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpy(dst, src, nbytes, k));
}

void synchronize(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace atto::cuda
