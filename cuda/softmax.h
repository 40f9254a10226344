// cuda/softmax.h -- softmax and log_softmax on the GPU, forward and backward (internal): the twin of
// tensor/cpu/softmax.h, same names and parameters. Plain C++ declarations; kernels and explicit
// instantiations (float, double) in cuda/softmax.cu.
//
// Shapes: x, y, dy, dx are one contiguous block seen as (outer, n, inner), the softmax taken over n:
// element (o, j, i) at (o * n + j) * inner + i. outer, n, inner >= 1 (the caller skips empty tensors).
#pragma once
#include <cstdint>

namespace atto::cuda {

// log selects log_softmax.
template <class T> void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log);
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner, bool log);

}  // namespace atto::cuda
