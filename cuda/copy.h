// cuda/copy.h -- strided copy with dtype conversion, and fill, on the GPU (internal): the kernels
// behind contiguous(), clone(), to(dtype), copy_() and fill_() for CUDA tensors. Twin:
// tensor/cpu/kernels.h (declarations) and tensor/cpu/copy.cpp; definitions in cuda/copy.cu.
#pragma once
#include "tensor/dtype.h"
#include "tensor/strided.h"

namespace atto::cuda {

// dst[i] = (dst type) src[i]; src already broadcast to dst's shape, both on one device.
void copy(StridedView dst, DType dst_dtype, StridedView src, DType src_dtype);
// dst[i] = value
void fill(StridedView dst, DType dtype, double value);

}  // namespace atto::cuda
