// tensor/cpu/kernels.h -- the CPU kernels the tensor layer calls through ATTO_ON_DEVICE (internal).
// Each takes StridedViews or plain pointers + sizes, never a Tensor. cuda/kernels.h declares the
// same names for the GPU. Op families add their own kernel headers beside this one.
#pragma once
#include "tensor/dtype.h"
#include "tensor/strided.h"

namespace atto::cpu {

// dst[i] = (dst type) src[i]; src already broadcast to dst's shape.
void copy(StridedView dst, DType dst_dtype, StridedView src, DType src_dtype);
// dst[i] = value
void fill(StridedView dst, DType dtype, double value);

}  // namespace atto::cpu
