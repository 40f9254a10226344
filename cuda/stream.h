// cuda/stream.h -- the one stream and the one cuBLAS handle of each device (NOTE [ One stream per
// device ] in cuda/runtime.h). For the backend's own .cpp/.cu files: it exposes CUDA types.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace atto::cuda {

// Makes `device` current for this thread (skipped when it already is) and returns its stream,
// created on first use. Every kernel launch of the backend goes to this stream.
cudaStream_t stream(int device);
// The device that holds `ptr` (device memory from the allocator, or any offset into it). Kernel
// launchers take the device from their output pointer, since kernel signatures mirror the CPU's.
int device_of(const void* ptr);

// The device's cuBLAS handle, bound to stream(device), with TF32 as set_allow_tf32 says.
cublasHandle_t cublas(int device);

}  // namespace atto::cuda
