// cuda/softmax.cu -- softmax and log_softmax on the GPU, forward and backward: the twin of
// tensor/cpu/softmax.h (declarations in cuda/softmax.h). Shapes: (outer, n, inner), softmax over n.
//
// inner == 1 (softmax over the last dim: contiguous rows of n): a group of threads per row (a warp
// for short rows, the block for long ones: NOTE [ Row groups ] in cuda/rows.cuh), fixed-tree
// reductions. inner > 1: one thread per line (o, i), walking j in order, as the CPU does; adjacent
// threads read adjacent i, so the loads are coalesced. Sums accumulate in acc_t (double for float),
// as the CPU's; the max is NaN-sticky as the CPU's.
#include "cuda/rows.cuh"
#include "cuda/softmax.h"

namespace atto::cuda {

namespace {

// softmax:      y_j = exp(x_j - m) / sum_k exp(x_k - m)
// log_softmax:  y_j = (x_j - m) - log(sum_k exp(x_k - m))
// with m = max_k x_k, so no exp overflows.
template <int G, class T, bool Log> __global__ void softmax_forward_rows_kernel(const T* x, T* y, int64_t rows, int64_t n) {
  using A = acc_t<T>;
  __shared__ T shared_max[kWarp];
  __shared__ A shared_sum[kWarp];
  const int lane = group_lane<G>();
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = neg_inf;
    for (int64_t j = lane; j < n; j += G) m = MaxOp{}(m, xr[j]);
    m = group_reduce<G>(m, MaxOp{}, neg_inf, shared_max);
    A sum = A(0);
    for (int64_t j = lane; j < n; j += G) sum += A(dev_exp(xr[j] - m));
    sum = group_reduce<G>(sum, SumOp{}, A(0), shared_sum);
    if constexpr (Log) {
      const T lse = T(log(sum));   // (x - m) - lse, not x - (m + lse): keeps float precision for large m
      for (int64_t j = lane; j < n; j += G) yr[j] = (xr[j] - m) - lse;
    } else {
      const T inv = T(A(1) / sum);
      for (int64_t j = lane; j < n; j += G) yr[j] = dev_exp(xr[j] - m) * inv;
    }
  }
}

template <class T, bool Log>
__global__ void softmax_forward_lines_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  using A = acc_t<T>;
  const int64_t lines = outer * inner;
  for (int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; l < lines; l += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (l / inner) * n * inner + l % inner;
    const T* xl = x + base;
    T* yl = y + base;
    T m = xl[0];
    for (int64_t j = 1; j < n; ++j) m = MaxOp{}(m, xl[j * inner]);
    A sum = A(0);
    for (int64_t j = 0; j < n; ++j) sum += A(dev_exp(xl[j * inner] - m));
    if constexpr (Log) {
      const T lse = T(log(sum));
      for (int64_t j = 0; j < n; ++j) yl[j * inner] = (xl[j * inner] - m) - lse;
    } else {
      const T inv = T(A(1) / sum);
      for (int64_t j = 0; j < n; ++j) yl[j * inner] = dev_exp(xl[j * inner] - m) * inv;
    }
  }
}

// softmax:      dx_j = y_j (dy_j - sum_k dy_k y_k)
// log_softmax:  dx_j = dy_j - exp(y_j) sum_k dy_k
template <class T, bool Log> __device__ acc_t<T> softmax_backward_term(T y, T dy) {
  return Log ? acc_t<T>(dy) : acc_t<T>(dy) * acc_t<T>(y);
}
template <class T, bool Log> __device__ T softmax_backward_value(T y, T dy, T s) {
  return Log ? dy - dev_exp(y) * s : y * (dy - s);
}

template <int G, class T, bool Log>
__global__ void softmax_backward_rows_kernel(const T* y, const T* dy, T* dx, int64_t rows, int64_t n) {
  using A = acc_t<T>;
  __shared__ A shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T *yr = y + r * n, *dyr = dy + r * n;
    T* dxr = dx + r * n;
    A dot = A(0);
    for (int64_t j = lane; j < n; j += G) dot += softmax_backward_term<T, Log>(yr[j], dyr[j]);
    const T s = T(group_reduce<G>(dot, SumOp{}, A(0), shared));
    for (int64_t j = lane; j < n; j += G) dxr[j] = softmax_backward_value<T, Log>(yr[j], dyr[j], s);
  }
}

template <class T, bool Log>
__global__ void softmax_backward_lines_kernel(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                                              int64_t inner) {
  using A = acc_t<T>;
  const int64_t lines = outer * inner;
  for (int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; l < lines; l += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (l / inner) * n * inner + l % inner;
    const T *yl = y + base, *dyl = dy + base;
    T* dxl = dx + base;
    A dot = A(0);
    for (int64_t j = 0; j < n; ++j) dot += softmax_backward_term<T, Log>(yl[j * inner], dyl[j * inner]);
    const T s = T(dot);
    for (int64_t j = 0; j < n; ++j) dxl[j * inner] = softmax_backward_value<T, Log>(yl[j * inner], dyl[j * inner], s);
  }
}

template <class T, bool Log> void softmax_forward_impl(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  cudaStream_t s = stream(device_of(y));
  if (inner == 1) {
    with_row_group(n, [&](auto g) {
      constexpr int G = decltype(g)::value;
      softmax_forward_rows_kernel<G, T, Log><<<row_blocks(outer, G), kThreads, 0, s>>>(x, y, outer, n);
      CUDA_CHECK_LAUNCH("softmax_forward_rows_kernel");
    });
  } else {
    softmax_forward_lines_kernel<T, Log><<<blocks_for(outer * inner), kThreads, 0, s>>>(x, y, outer, n, inner);
    CUDA_CHECK_LAUNCH("softmax_forward_lines_kernel");
  }
}

template <class T, bool Log>
void softmax_backward_impl(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner) {
  cudaStream_t s = stream(device_of(dx));
  if (inner == 1) {
    with_row_group(n, [&](auto g) {
      constexpr int G = decltype(g)::value;
      softmax_backward_rows_kernel<G, T, Log><<<row_blocks(outer, G), kThreads, 0, s>>>(y, dy, dx, outer, n);
      CUDA_CHECK_LAUNCH("softmax_backward_rows_kernel");
    });
  } else {
    softmax_backward_lines_kernel<T, Log><<<blocks_for(outer * inner), kThreads, 0, s>>>(y, dy, dx, outer, n, inner);
    CUDA_CHECK_LAUNCH("softmax_backward_lines_kernel");
  }
}

}  // namespace

template <class T> void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (outer * n * inner == 0) return;
  if (log) softmax_forward_impl<T, true>(x, y, outer, n, inner);
  else softmax_forward_impl<T, false>(x, y, outer, n, inner);
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (outer * n * inner == 0) return;
  if (log) softmax_backward_impl<T, true>(y, dy, dx, outer, n, inner);
  else softmax_backward_impl<T, false>(y, dy, dx, outer, n, inner);
}

// ---- explicit instantiations: autograd/functions/nn_functional.cpp calls these for float and double --

template void softmax_forward<float>(const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_forward<double>(const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);

}  // namespace atto::cuda
