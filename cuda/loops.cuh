// cuda/loops.cuh -- the generic strided elementwise kernel every CUDA elementwise kernel is made of
// (for .cu files). Twin: tensor/cpu/loops.h.
//
//   map_strided<Out, In...>(f, out, in...)   out[i] = f(in[i]...) for every index i of out's shape
//
// Same contract as the CPU loop: all views have out's shape, a broadcast input has stride 0 along
// the broadcast dims. f is a functor with a __device__ operator() (a struct, not a lambda: extended
// lambdas may not sit inside the generic lambdas of visit_dtype). Two kernels, both grid-stride
// loops with 64-bit indices:
//   * every view contiguous: element i of every operand is at i;
//   * otherwise: the host coalesces the dims (tensor/coalesce.h) and passes the sizes and strides by
//     value; each thread splits its linear index into per-dim indices, and those into one element
//     offset per operand.
// Each element is read and then written by one thread, so out may be one of the inputs (in-place).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "cuda/launch.cuh"
#include "tensor/coalesce.h"
#include "tensor/strided.h"

namespace atto::cuda {

namespace loops_detail {

// Coalesced geometry of N views (view 0 is the output): one shape, one stride row per view.
template <size_t N> struct Geometry {
  int ndim = 0;
  int64_t shape[kMaxViewDims] = {};
  int64_t strides[N][kMaxViewDims] = {};
};

template <class F, class Out, class... In>
__global__ void map_contiguous_kernel(F f, int64_t n, Out* out, const In*... in) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) out[i] = f(in[i]...);
}

// out[0] = f(in[off[K]]...): the K-th input read at its own offset.
template <class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_at(const F& f, Out* out, const int64_t* off, std::index_sequence<K...>,
                                         const In*... in) {
  *out = f(in[off[K]]...);
}

template <class F, size_t N, class Out, class... In>
__global__ void map_strided_kernel(F f, int64_t n, Geometry<N> g, Out* out, const In*... in) {
  static_assert(N == 1 + sizeof...(In), "one stride row per view");
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[N] = {};
    int64_t rem = i;
    for (int d = g.ndim - 1; d >= 0; --d) {   // C order: the last dim varies fastest
      const int64_t idx = rem % g.shape[d];
      rem /= g.shape[d];
#pragma unroll
      for (size_t k = 0; k < N; ++k) off[k] += idx * g.strides[k][d];
    }
    apply_at(f, out + off[0], off + 1, std::index_sequence_for<In...>{}, in...);
  }
}

}  // namespace loops_detail

template <class Out, class... In, class F, class... Views>
void map_strided(const F& f, StridedView out, const Views&... in) {
  static_assert(sizeof...(In) == sizeof...(Views), "one element type per input view");
  constexpr size_t N = 1 + sizeof...(In);
  const int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t s = stream(device_of(out.data));
  const unsigned blocks = blocks_for(n);
  if ((is_contiguous_view(out) && ... && is_contiguous_view(in))) {
    loops_detail::map_contiguous_kernel<<<blocks, kThreads, 0, s>>>(f, n, out.ptr<Out>(),
                                                                    in.template ptr<const In>()...);
    CUDA_CHECK_LAUNCH("map_contiguous_kernel");
    return;
  }
  std::array<StridedView, N> v{out, in...};
  coalesce(v);
  loops_detail::Geometry<N> g;
  g.ndim = v[0].ndim;
  for (int d = 0; d < g.ndim; ++d) {
    g.shape[d] = v[0].shape[d];
    for (size_t k = 0; k < N; ++k) g.strides[k][d] = v[k].strides[d];
  }
  loops_detail::map_strided_kernel<<<blocks, kThreads, 0, s>>>(f, n, g, out.ptr<Out>(), in.template ptr<const In>()...);
  CUDA_CHECK_LAUNCH("map_strided_kernel");
}

}  // namespace atto::cuda
