// cuda/rows.cuh -- what the row kernels of cuda/reduce.cu, cuda/softmax.cu and cuda/layernorm.cu share
// (for .cu files only): a group of threads per row, reductions within that group, column sums, and
// float/double overloads of the math functions. No CPU twin: tensor/cpu/reduce.h's reduce_rows and
// for_each_row_element play this part there.
//
// NOTE [ Row groups ]
// A row kernel takes `rows` rows of R contiguous elements. Each row belongs to one group of G
// threads: a warp (G = 32, eight rows per block) when rows are short, the whole block (G = kThreads)
// when they are long. Thread `lane` of the group takes the elements lane, lane + G, lane + 2G, ... in
// order, then the group combines its threads' values in a fixed tree (group_reduce). G depends only
// on R, so the same input gives the same bits on every run (NOTE [ Deterministic reductions ] in
// cuda/launch.cuh). Groups walk the rows with a grid-stride loop, so any number of rows fits.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/launch.cuh"
#include "cuda/scratch.h"
#include "cuda/runtime.h"

namespace atto::cuda {

// The accumulator of a sum, as the CPU's (tensor/cpu/reduce.h): float sums accumulate in double.
template <class T> using acc_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

// ---- float / double math in device code ------------------------------------------------------------

__device__ inline float dev_exp(float x) { return expf(x); }
__device__ inline double dev_exp(double x) { return exp(x); }
__device__ inline float dev_log(float x) { return logf(x); }
__device__ inline double dev_log(double x) { return log(x); }
__device__ inline float dev_sqrt(float x) { return sqrtf(x); }
__device__ inline double dev_sqrt(double x) { return sqrt(x); }
__device__ inline float dev_pow(float x, float y) { return powf(x, y); }
__device__ inline double dev_pow(double x, double y) { return pow(x, y); }
__device__ inline float dev_abs(float x) { return fabsf(x); }
__device__ inline double dev_abs(double x) { return fabs(x); }

template <class T> __device__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}
template <class T> __device__ bool is_inf(T v) {
  return v == std::numeric_limits<T>::infinity() || v == -std::numeric_limits<T>::infinity();
}
template <class T> __device__ T sign_of(T v) { return T((v > T(0)) - (v < T(0))); }

// ---- row groups (NOTE [ Row groups ]) ----------------------------------------------------------------

// Rows up to this length go to a warp each; longer rows to a block each.
inline constexpr int64_t kWarpRowMax = 1024;

template <int G> __device__ int group_lane() { return int(threadIdx.x % G); }
template <int G> __device__ int64_t group_first_row() {
  return int64_t(blockIdx.x) * (kThreads / G) + threadIdx.x / G;
}
template <int G> __device__ int64_t group_row_stride() { return int64_t(gridDim.x) * (kThreads / G); }

// Blocks of kThreads for `rows` rows at kThreads / G rows per block, capped (grid-stride loops).
inline unsigned row_blocks(int64_t rows, int G) { return blocks_for(rows, kThreads / G); }

// Calls launch(std::integral_constant<int, G>) with the group size for rows of R elements.
template <class Launch> void with_row_group(int64_t R, const Launch& launch) {
  if (R <= kWarpRowMax) launch(std::integral_constant<int, kWarp>{});
  else launch(std::integral_constant<int, kThreads>{});
}

template <class T> __device__ T shfl_down(T v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
template <class T> __device__ T shfl_first(T v) { return __shfl_sync(0xffffffffu, v, 0); }

// Every thread of the group passes its partial value; every thread of the group gets the group's
// result, combined by `op` in a fixed tree. `identity` fills the unused lanes of the final warp
// step (G = kThreads only). `shared` (>= kWarp values) is used only when G is the block; then every
// thread of the block must call, and the call may be repeated (it synchronises before reusing
// `shared`, as block_reduce in cuda/launch.cuh, of which this is the version for any G and any T
// with a shfl_down / shfl_first overload).
template <int G, class T, class Op> __device__ T group_reduce(T v, Op op, T identity, T* shared) {
  static_assert(G == kWarp || G == kThreads, "a row group is a warp or the block");
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = op(v, shfl_down(v, offset));
  if constexpr (G == kWarp) {
    return shfl_first(v);
  } else {
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    constexpr int warps = G / kWarp;
    __syncthreads();   // a previous call may still be reading shared[0]
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
      T w = lane < warps ? shared[lane] : identity;
      for (int offset = kWarp / 2; offset > 0; offset /= 2) w = op(w, shfl_down(w, offset));
      if (lane == 0) shared[0] = w;
    }
    __syncthreads();
    return shared[0];
  }
}

// ---- column sums -------------------------------------------------------------------------------------

// out[c] = sum over j < R of term(j, c), for c < cols, in two fixed passes (deterministic; the tree
// depends only on R and cols):
//   pass 1: the rows are cut into chunks of chunk_rows; a block of kColTile columns x kColLanes row
//           lanes sums one chunk of kColTile columns. Lane ty takes rows ty, ty + kColLanes, ... of the
//           chunk in order (a warp reads kColTile adjacent columns of one row: coalesced); then the
//           lanes' sums are added in lane order into partial[chunk, c].
//   pass 2: one thread per column adds its chunks' partials in chunk order.
inline constexpr int kColTile = 32, kColLanes = kThreads / kColTile;
inline constexpr int64_t kColChunkRows = 1024;

template <class A, class Term>
__global__ void column_partials_kernel(Term term, int64_t R, int64_t cols, int64_t chunk_rows, A* partial) {
  __shared__ A lanes[kColLanes][kColTile];
  const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
  const int64_t c = int64_t(blockIdx.x) * kColTile + tx;
  const int64_t begin = int64_t(blockIdx.y) * chunk_rows;
  const int64_t end = begin + chunk_rows < R ? begin + chunk_rows : R;
  A acc = A(0);
  if (c < cols)
    for (int64_t j = begin + ty; j < end; j += kColLanes) acc += term(j, c);
  lanes[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && c < cols) {
    A s = lanes[0][tx];
    for (int l = 1; l < kColLanes; ++l) s += lanes[l][tx];
    partial[int64_t(blockIdx.y) * cols + c] = s;
  }
}

template <class A, class T>
__global__ void column_finish_kernel(const A* partial, int64_t chunks, int64_t cols, T* out) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    A s = partial[c];
    for (int64_t k = 1; k < chunks; ++k) s += partial[k * cols + c];
    out[c] = T(s);
  }
}

// Launches both passes on stream s of `device`; `term` is a device functor (int64_t j, int64_t c) -> A.
template <class A, class T, class Term>
void column_sums(const Term& term, T* out, int64_t R, int64_t cols, int device, cudaStream_t s) {
  if (cols == 0) return;
  constexpr int64_t kMaxChunks = 65535;   // gridDim.y
  const int64_t chunk_rows = std::max(kColChunkRows, (R + kMaxChunks - 1) / kMaxChunks);
  const int64_t chunks = std::max<int64_t>(1, (R + chunk_rows - 1) / chunk_rows);
  DeviceBuffer<A> partial(chunks * cols, device);
  const dim3 grid(unsigned((cols + kColTile - 1) / kColTile), unsigned(chunks));
  column_partials_kernel<A><<<grid, kColTile * kColLanes, 0, s>>>(term, R, cols, chunk_rows, partial.get());
  CUDA_CHECK_LAUNCH("column_partials_kernel");
  column_finish_kernel<A, T><<<blocks_for(cols), kThreads, 0, s>>>(partial.get(), chunks, cols, out);
  CUDA_CHECK_LAUNCH("column_finish_kernel");
}

// Elementwise over a (rows, R) block for backward kernels: fn(r, i) for every flat index i = r * R + j.
template <class Fn> __global__ void row_elements_kernel(Fn fn, int64_t rows, int64_t R) {
  const int64_t n = rows * R;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    fn(i / R, i);
}

template <class Fn> void for_each_row_element(const Fn& fn, int64_t rows, int64_t R, cudaStream_t s) {
  if (rows * R == 0) return;
  row_elements_kernel<<<blocks_for(rows * R), kThreads, 0, s>>>(fn, rows, R);
  CUDA_CHECK_LAUNCH("row_elements_kernel");
}

}  // namespace atto::cuda
