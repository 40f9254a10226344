// cuda/launch.cuh -- what every kernel file of the backend shares: launch shapes, the launch check,
// and deterministic block reductions (for .cu files only).
//
// NOTE [ Deterministic reductions ]
// A float sum depends on the order of its additions. Every reduction here has a fixed tree: each
// thread sums a fixed, strided subset of the row in index order, then the block combines the
// partial sums by warp shuffles in a fixed pattern, then warp 0 combines the warps' results. The
// same input and launch shape therefore give the same bits on every run. No float atomics (whose
// order is up to the hardware), except where a file documents an opt-in exception.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/check.h"
#include "cuda/stream.h"
#include "tensor/strided.h"

namespace atto::cuda {

inline constexpr int kThreads = 256;        // threads per block for elementwise and row kernels
inline constexpr int kWarp = 32;
inline constexpr int64_t kMaxBlocks = 65535LL * 32;

// Blocks for n independent items at `threads` per block, capped (kernels use grid-stride loops).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return unsigned(std::clamp<int64_t>((n + threads - 1) / threads, 1, kMaxBlocks));
}

// ---- reductions within a block (blockDim.x a multiple of 32, at most 1024) ---------------------------

struct SumOp {
  template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {   // NaN wins, as torch.max
  template <class T> __device__ T operator()(T a, T b) const { return (a != a || a > b) ? a : b; }
};

template <class T, class Op> __device__ T warp_reduce(T v, Op op) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
  return v;
}

// Every thread passes its partial value; every thread gets the block's result. `identity` fills the
// lanes past the last warp. `shared` holds at least 32 T. Safe to call repeatedly in one kernel (it
// synchronises before reusing `shared`).
template <class T, class Op> __device__ T block_reduce(T v, Op op, T identity, T* shared) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_reduce(v, op);
  __syncthreads();   // a previous call may still be reading shared[0]
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = warp_reduce(lane < warps ? shared[lane] : identity, op);
    if (lane == 0) shared[0] = w;
  }
  __syncthreads();
  return shared[0];
}

template <class T> __device__ T block_sum(T v, T* shared) { return block_reduce(v, SumOp{}, T(0), shared); }
template <class T> __device__ T block_max(T v, T* shared) {
  return block_reduce(v, MaxOp{}, -std::numeric_limits<T>::infinity(), shared);
}

}  // namespace atto::cuda
