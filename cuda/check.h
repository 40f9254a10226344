// cuda/check.h -- every CUDA runtime call is checked and throws atto::Error with file:line, the call
// text and the reason (never exit()).
#pragma once
#include <cuda_runtime.h>

#include "tensor/check.h"

namespace atto::cuda {
inline void check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) [[unlikely]]
    throw Error(fmt::format("[cuda] {} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorString(err),
                            cudaGetErrorName(err)));
}
}  // namespace atto::cuda

#define CUDA_CHECK(call) ::atto::cuda::check((call), #call, __FILE__, __LINE__)
