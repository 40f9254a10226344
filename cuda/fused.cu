// cuda/fused.cu -- bias + GELU in one pass (cuda/fused.h); twin: the composite gelu(add(y, bias)) in
// autograd/functions/fused.cpp. One thread an element, grid-stride, 64-bit indices; the column of
// element idx of a (rows, n) matrix is idx % n. The GELU formulas are fns::Gelu / fns::GeluTanh
// (tensor/elementwise_fns.h), so each value is computed exactly as add then gelu compute it.
#include "cuda/fused.h"

#include "cuda/launch.cuh"
#include "tensor/elementwise_fns.h"

namespace atto::cuda {

namespace {

template <class T, class Fn>
__global__ void bias_gelu_forward_kernel(const T* __restrict__ y, const T* __restrict__ bias, T* __restrict__ out,
                                         int64_t total, int64_t n, Fn fn) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x)
    out[idx] = fn.fwd(y[idx] + bias[idx % n]);
}

template <class T, class Fn>
__global__ void bias_gelu_backward_kernel(const T* __restrict__ y, const T* __restrict__ bias,
                                          const T* __restrict__ dout, T* __restrict__ dy, int64_t total, int64_t n,
                                          Fn fn) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x)
    dy[idx] = fn.bwd(y[idx] + bias[idx % n], T(0), dout[idx]);   // GELU's bwd reads x only (kSavesX)
}

// Calls launch(functor) with the GELU form asked for.
template <class Launch> void with_gelu(bool tanh_approx, Launch&& launch) {
  if (tanh_approx) launch(fns::GeluTanh{});
  else launch(fns::Gelu{});
}

}  // namespace

template <class T> void bias_gelu_forward(const T* y, const T* bias, T* out, int64_t rows, int64_t n, bool tanh_approx) {
  const int64_t total = rows * n;
  if (total == 0) return;
  cudaStream_t s = stream(device_of(out));
  with_gelu(tanh_approx, [&](auto fn) {
    bias_gelu_forward_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(y, bias, out, total, n, fn);
    CUDA_CHECK_LAUNCH("bias_gelu_forward_kernel");
  });
}

template <class T>
void bias_gelu_backward(const T* y, const T* bias, const T* dout, T* dy, int64_t rows, int64_t n, bool tanh_approx) {
  const int64_t total = rows * n;
  if (total == 0) return;
  cudaStream_t s = stream(device_of(dy));
  with_gelu(tanh_approx, [&](auto fn) {
    bias_gelu_backward_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(y, bias, dout, dy, total, n, fn);
    CUDA_CHECK_LAUNCH("bias_gelu_backward_kernel");
  });
}

#define ATTO_INSTANTIATE(T)                                                                 \
  template void bias_gelu_forward<T>(const T*, const T*, T*, int64_t, int64_t, bool);       \
  template void bias_gelu_backward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, bool);
ATTO_INSTANTIATE(float)
ATTO_INSTANTIATE(double)
#undef ATTO_INSTANTIATE

}  // namespace atto::cuda
