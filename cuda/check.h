// cuda/check.h -- every CUDA runtime and cuBLAS call is checked and throws atto::Error with
// file:line, the call text and the reason (never exit()). For the backend's own files.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "tensor/check.h"

namespace atto::cuda {
inline void check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) [[unlikely]]
    throw Error(fmt::format("[cuda] {} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorString(err),
                            cudaGetErrorName(err)));
}
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]]
    throw Error(fmt::format("[cublas] {} failed at {}:{}: {} ({})", call, file, line, cublasGetStatusString(status),
                            cublasGetStatusName(status)));
}
}  // namespace atto::cuda

#define CUDA_CHECK(call) ::atto::cuda::check((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) ::atto::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: a bad configuration (too many threads, too much shared memory) is reported
// here; a fault inside the kernel surfaces at the next synchronising call.
#define CUDA_CHECK_LAUNCH(kernel_name) ::atto::cuda::check(cudaGetLastError(), kernel_name, __FILE__, __LINE__)
