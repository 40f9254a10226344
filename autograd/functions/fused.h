// autograd/functions/fused.h -- ops that are one fused kernel on CUDA and a composite of existing
// ops elsewhere (the composite is the reference; both give the same values). Implemented in fused.cpp.
#pragma once
#include "autograd/functions/elementwise.h"   // GeluApprox
#include "tensor/tensor.h"

namespace atto {

// gelu(y + bias), the bias broadcast along the last dim: a Linear layer's bias and the GELU after it
// (linear(x, w) then bias_gelu, instead of linear(x, w, b) then gelu). y (..., N), bias (N), one
// floating dtype, one device -> (..., N).
// On CUDA one kernel adds and applies GELU (and one more its backward; the bias's gradient is the
// sum of y's over the rows), instead of an add kernel and a gelu kernel that each read and write
// the whole activation: cuda/fused.h. Elsewhere: gelu(add(y, bias), approximate).
Tensor bias_gelu(const Tensor& y, const Tensor& bias, GeluApprox approximate = GeluApprox::None);

}  // namespace atto
