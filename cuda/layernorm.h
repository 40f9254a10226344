// cuda/layernorm.h -- layer normalisation on the GPU, forward and backward (internal): the twin of
// tensor/cpu/layernorm.h, same names and parameters. Plain C++ declarations; kernels and explicit
// instantiations (float, double) in cuda/layernorm.cu.
//
// Shapes: x, y, dy, dx (rows, C) contiguous, normalised over each row; w, b, dw, db (C), each may be
// null (no affine transform / gradient not needed); mean, rstd (rows), saved by forward for backward.
#pragma once
#include <cstdint>

namespace atto::cuda {

template <class T>
void layernorm_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows, int64_t C,
                       double eps);
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* w, const T* mean, const T* rstd, T* dx, T* dw, T* db,
                        int64_t rows, int64_t C);

}  // namespace atto::cuda
