// cuda/conv.h -- 2-D convolution and max/avg pooling on the GPU, forward and backward (internal).
// Twin of tensor/cpu/conv.h: the same names, parameters, layouts (contiguous NCHW) and window
// geometry (cpu::Window2d), so ATTO_ON_DEVICE picks either. Definitions in cuda/conv.cu.
#pragma once
#include <cstdint>

#include "tensor/cpu/conv.h"   // Window2d: the call sites build one for either backend

namespace atto::cuda {

using cpu::Window2d;

// y (N, Cout, oH, oW) = conv2d(x (N, C, H, W), w (Cout, C/groups, kH, kW)) + bias (Cout, may be null).
template <class T> void conv2d_forward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                       const T* w, const T* bias, T* y);
// dx, dw, db may each be null when not needed; x is read only for dw, w only for dx.
template <class T> void conv2d_backward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                        const T* w, const T* dy, T* dx, T* dw, T* db);

// `planes` independent H x W planes; idx holds each max's flat index h * W + w in its plane.
template <class T> void max_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y, int64_t* idx);
template <class T> void max_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, const int64_t* idx, T* dx);
template <class T> void avg_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y,
                                           bool count_include_pad, int64_t divisor_override);
template <class T> void avg_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, T* dx,
                                            bool count_include_pad, int64_t divisor_override);

}  // namespace atto::cuda
