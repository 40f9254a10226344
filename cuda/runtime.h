// cuda/runtime.h -- the CUDA runtime as the tensor layer sees it: devices, memory, host<->device
// copies. Compiled only in CUDA builds (ATTO_CUDA=AUTO finds nvcc, or ON); never includes Tensor.
#pragma once
#include <cstddef>
#include <string>

namespace atto::cuda {

int device_count();                    // 0 when the driver or the GPU is missing (never throws)
std::string device_name(int index);
void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device);
void synchronize(int device);

}  // namespace atto::cuda
