// cuda/fused.h -- fused elementwise epilogues on CUDA (internal header): the bias add and GELU of a
// Linear layer followed by GELU (a transformer's MLP) in one pass over memory instead of two. Twin:
// the composite gelu(add(y, bias)) of autograd/functions/fused.cpp, which is also the CPU path;
// there is no CPU kernel of this name, so the call site uses ATTO_CUDA_ONLY. Plain C++
// declarations; defined and instantiated in cuda/fused.cu.
//
// Shapes: y, out, dout, dy (rows, n) contiguous, bias (n): z = y + bias (bias broadcast over rows).
// tanh_approx: GELU's tanh form (GeluApprox::Tanh) instead of the exact erf form. The formulas are
// the GELU functors of tensor/elementwise_fns.h, the ones the unfused CUDA gelu kernel runs.
#pragma once
#include <cstdint>

namespace atto::cuda {

// T: float, double. out = gelu(y + bias).
template <class T> void bias_gelu_forward(const T* y, const T* bias, T* out, int64_t rows, int64_t n, bool tanh_approx);
// T: float, double. dy = dout * gelu'(y + bias): the gradient of y, and of z = y + bias; the bias's
// gradient is its sum over rows, left to the caller (a deterministic reduction of the reduce family).
template <class T>
void bias_gelu_backward(const T* y, const T* bias, const T* dout, T* dy, int64_t rows, int64_t n, bool tanh_approx);

}  // namespace atto::cuda
