// cuda/attention.cu -- fused scaled dot-product attention (cuda/attention.h); twin: the composite
// in autograd/functions/attention.cpp. Shape legend: b the flattened batch (BH), i a query (L of them),
// j a key (S of them), d a head-dim element (E for q and k, Ev for v and the output).
//
// Forward (FlashAttention): a block owns kRows query rows and streams the keys and values through
// shared memory kTile rows at a time, keeping per row an online softmax -- the running max m, the
// running sum l of exp(score - m) and the output accumulator acc (rescaled by exp(m_old - m_new)
// whenever m grows). At the end out = acc / l and lse = m + log(l) is saved.
// Backward, with P[i, j] = exp(score[i, j] - lse[i]) recomputed tile by tile (no L x S matrix):
//   delta[i] = sum_d dout[i, d] * out[i, d]                  (= sum_j P[i, j] * dP[i, j])
//   dP[i, j] = dout[i] . v[j],   dS[i, j] = P[i, j] * (dP[i, j] - delta[i])
//   dv[j] = sum_i P[i, j] dout[i],   dk[j] = sum_i dS[i, j] (scale * q[i]),   dq[i] = scale * sum_j dS[i, j] k[j]
// in two passes so that no two threads add into one element (no atomics, deterministic): one over
// key blocks (each owns kRows keys, streams all queries: dk, dv), one over query blocks (each owns
// kRows queries, streams all keys: dq).
//
// NOTE [ Fused attention teams ]
// Each row a block owns (a query in the forward and the dq pass, a key in the dk/dv pass) gets a
// team of G = kD / kPer consecutive lanes of one warp; lane g of the team holds the head-dim elements
// d = g, g + G, g + 2G, ... (kPer of them) of that row's vectors in registers. A dot product is kPer
// products per lane, then a butterfly of xor shuffles over the team: every lane of the team ends with
// the same bits (each step computes a + b on one lane and b + a on its partner), so all lanes take the
// same branches afterwards. The head dim is padded with zeros up to kD (16, 32, 64 or 128), so the
// inner loops have no bounds. Every thread of a block runs every loop and every shuffle (rows past
// the end compute on zeros, score -inf, and store nothing): the shuffles need whole warps and
// __syncthreads the whole block.
#include "cuda/attention.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "cuda/launch.cuh"

namespace atto::cuda {

namespace {

constexpr int kPer = 16;    // head-dim elements per lane
constexpr int kRows = 32;   // rows (teams) a block owns

// Rows of the streamed side per shared-memory tile: two tiles of kD = 128 fit in 32 KiB.
template <class T> constexpr int tile_rows() { return sizeof(T) == 4 ? 32 : 16; }

template <class T> constexpr T neg_inf() { return -std::numeric_limits<T>::infinity(); }
template <class T> __device__ T max_of(T a, T b) { return b > a ? b : a; }

// The sum of v over the G lanes of a team (NOTE [ Fused attention teams ]).
template <int G, class T> __device__ T team_sum(T v) {
  for (int offset = G / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The mask of one batch slice b: element (i, j) at data[base + i * row + j * col]; data null: none.
struct SliceMask {
  const void* data = nullptr;
  bool is_bool = false;
  int64_t base = 0, row = 0, col = 0;
};

// The flattened batch index b taken apart over the mask's batch dims (C order) into an offset.
__device__ SliceMask slice_mask(const StridedView& m, bool is_bool, int64_t b) {
  SliceMask s;
  if (m.data == nullptr) return s;
  s.data = m.data;
  s.is_bool = is_bool;
  for (int d = m.ndim - 3; d >= 0; --d) {
    s.base += (b % m.shape[d]) * m.strides[d];
    b /= m.shape[d];
  }
  s.row = m.strides[m.ndim - 2];
  s.col = m.strides[m.ndim - 1];
  return s;
}

// score(dot, i, j): the score of query i and key j from dot = (scale * q[i]) . k[j], as the composite
// forms it -- a bool mask replaces a masked-out score by -inf, a float mask is added -- and -inf
// for a key the query must not see (causal) or a row/column past the end.
template <class T> struct Scorer {
  SliceMask mask;
  int64_t L, S;
  bool causal;
  __device__ T operator()(T dot, int64_t i, int64_t j) const {
    if (i >= L || j >= S || (causal && j > i)) return neg_inf<T>();
    if (mask.data == nullptr) return dot;
    const int64_t at = mask.base + i * mask.row + j * mask.col;
    if (mask.is_bool) return static_cast<const bool*>(mask.data)[at] ? dot : neg_inf<T>();
    return dot + static_cast<const T*>(mask.data)[at];
  }
};

// P[i, j] = exp(score - lse[i]); 0 where the score is -inf, and on a fully masked row (lse -inf),
// whose output and gradients are 0 (FullyMaskedRows::Zero).
template <class T> __device__ T prob(T score, T lse) {
  return (score == neg_inf<T>() || lse == neg_inf<T>()) ? T(0) : std::exp(score - lse);
}

// Rows [r0, r0 + kTile) of the row-major (n, width) matrix src, times factor, into tile; zeros past
// row n and past column width (the head-dim padding).
template <int kD, int kTile, class T>
__device__ void load_tile(T (*tile)[kD], const T* src, int64_t r0, int64_t n, int64_t width, T factor) {
  for (int idx = threadIdx.x; idx < kTile * kD; idx += blockDim.x) {
    const int r = idx / kD, d = idx % kD;
    const int64_t row = r0 + r;
    tile[r][d] = (row < n && d < width) ? src[row * width + d] * factor : T(0);
  }
}

// Lane g's kPer elements of row `row` of the (n, width) matrix src, times factor (zeros past the end).
template <int G, class T>
__device__ void load_row(T (&dst)[kPer], const T* src, int64_t row, int64_t n, int64_t width, int g, T factor) {
#pragma unroll
  for (int t = 0; t < kPer; ++t) {
    const int d = g + G * t;
    dst[t] = (row < n && d < width) ? src[row * width + d] * factor : T(0);
  }
}

// Lane g's kPer elements of row `row` of the (n, width) matrix dst, times factor (nothing past the end).
template <int G, class T>
__device__ void store_row(T* dst, const T (&src)[kPer], int64_t row, int64_t n, int64_t width, int g, T factor) {
  if (row >= n) return;
#pragma unroll
  for (int t = 0; t < kPer; ++t) {
    const int d = g + G * t;
    if (d < width) dst[row * width + d] = src[t] * factor;
  }
}

// The keys a block of queries [first_row, first_row + kRows) streams: all S, or under causal only
// those up to its last query (the rest are masked out for every row of the block).
inline __device__ int64_t key_end(const AttentionShape& sh, int64_t first_row) {
  const int64_t rows_end = first_row + kRows < sh.L ? first_row + kRows : sh.L;   // last query + 1
  return sh.causal && rows_end < sh.S ? rows_end : sh.S;
}

// ---- forward ------------------------------------------------------------------------------------------------

// Grid: one block per (b, block of kRows queries), b major. Block: kRows teams of G lanes.
template <class T, int kD>
__global__ void __launch_bounds__(kRows * (kD / kPer))
    attention_forward_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                             StridedView mask, bool mask_is_bool, T* __restrict__ out, T* __restrict__ lse,
                             AttentionShape sh, int64_t row_blocks) {
  constexpr int G = kD / kPer, kTile = tile_rows<T>();
  __shared__ T ks[kTile][kD], vs[kTile][kD];
  const int team = threadIdx.x / G, g = threadIdx.x % G;
  const int64_t b = blockIdx.x / row_blocks, first_row = (blockIdx.x % row_blocks) * kRows;
  const int64_t i = first_row + team;
  const Scorer<T> score{slice_mask(mask, mask_is_bool, b), sh.L, sh.S, sh.causal};

  T qr[kPer], acc[kPer];
  load_row<G>(qr, q + b * sh.L * sh.E, i, sh.L, sh.E, g, T(sh.scale));
#pragma unroll
  for (int t = 0; t < kPer; ++t) acc[t] = T(0);
  T m = neg_inf<T>(), l = T(0);

  const int64_t keys = key_end(sh, first_row);
  for (int64_t j0 = 0; j0 < keys; j0 += kTile) {
    __syncthreads();   // every thread is done with the previous tile
    load_tile<kD, kTile>(ks, k + b * sh.S * sh.E, j0, sh.S, sh.E, T(1));
    load_tile<kD, kTile>(vs, v + b * sh.S * sh.Ev, j0, sh.S, sh.Ev, T(1));
    __syncthreads();

    T s[kTile];
    T tile_max = neg_inf<T>();
#pragma unroll
    for (int jj = 0; jj < kTile; ++jj) {
      T part = T(0);
#pragma unroll
      for (int t = 0; t < kPer; ++t) part += qr[t] * ks[jj][g + G * t];
      s[jj] = score(team_sum<G>(part), i, j0 + jj);
      tile_max = max_of(tile_max, s[jj]);
    }
    const T m_new = max_of(m, tile_max);
    if (m_new != neg_inf<T>()) {   // else every score so far is -inf: nothing to add yet
      const T correction = std::exp(m - m_new);   // 0 while m is still -inf
      l *= correction;
#pragma unroll
      for (int t = 0; t < kPer; ++t) acc[t] *= correction;
#pragma unroll
      for (int jj = 0; jj < kTile; ++jj) {
        const T p = std::exp(s[jj] - m_new);   // 0 for a -inf score
        l += p;
#pragma unroll
        for (int t = 0; t < kPer; ++t) acc[t] += p * vs[jj][g + G * t];
      }
      m = m_new;
    }
  }

  // A fully masked row (m still -inf): output 0, lse -inf (FullyMaskedRows::Zero).
  const bool dead = m == neg_inf<T>();
#pragma unroll
  for (int t = 0; t < kPer; ++t) acc[t] = dead ? T(0) : acc[t] / l;
  store_row<G>(out + b * sh.L * sh.Ev, acc, i, sh.L, sh.Ev, g, T(1));
  if (i < sh.L && g == 0) lse[b * sh.L + i] = dead ? neg_inf<T>() : m + std::log(l);
}

// ---- backward -----------------------------------------------------------------------------------------------

// delta[r] = sum_d dout[r, d] * out[r, d] for every row r of (rows, Ev); one thread a row.
template <class T>
__global__ void attention_delta_kernel(const T* __restrict__ out, const T* __restrict__ dout, T* __restrict__ delta,
                                       int64_t rows, int64_t Ev) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    T acc = T(0);
    for (int64_t d = 0; d < Ev; ++d) acc += dout[r * Ev + d] * out[r * Ev + d];
    delta[r] = acc;
  }
}

// dk and dv. Grid: one block per (b, block of kRows keys), b major; the queries stream through
// shared memory (scaled q, dout, lse, delta).
template <class T, int kD>
__global__ void __launch_bounds__(kRows * (kD / kPer))
    attention_backward_dkdv_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                   const T* __restrict__ dout, const T* __restrict__ lse,
                                   const T* __restrict__ delta, StridedView mask, bool mask_is_bool,
                                   T* __restrict__ dk, T* __restrict__ dv, AttentionShape sh, int64_t key_blocks) {
  constexpr int G = kD / kPer, kTile = tile_rows<T>();
  __shared__ T qs[kTile][kD], dos[kTile][kD], lse_s[kTile], delta_s[kTile];
  const int team = threadIdx.x / G, g = threadIdx.x % G;
  const int64_t b = blockIdx.x / key_blocks, first_key = (blockIdx.x % key_blocks) * kRows;
  const int64_t j = first_key + team;
  const Scorer<T> score{slice_mask(mask, mask_is_bool, b), sh.L, sh.S, sh.causal};

  T kr[kPer], vr[kPer], dk_acc[kPer], dv_acc[kPer];
  load_row<G>(kr, k + b * sh.S * sh.E, j, sh.S, sh.E, g, T(1));
  load_row<G>(vr, v + b * sh.S * sh.Ev, j, sh.S, sh.Ev, g, T(1));
#pragma unroll
  for (int t = 0; t < kPer; ++t) dk_acc[t] = dv_acc[t] = T(0);

  // Causal: query i sees key j only if i >= j, so queries before this block's first key add nothing.
  const int64_t query_begin = sh.causal ? first_key : 0;
  for (int64_t i0 = query_begin; i0 < sh.L; i0 += kTile) {
    __syncthreads();
    load_tile<kD, kTile>(qs, q + b * sh.L * sh.E, i0, sh.L, sh.E, T(sh.scale));
    load_tile<kD, kTile>(dos, dout + b * sh.L * sh.Ev, i0, sh.L, sh.Ev, T(1));
    for (int r = threadIdx.x; r < kTile; r += blockDim.x) {
      const int64_t i = i0 + r;
      lse_s[r] = i < sh.L ? lse[b * sh.L + i] : neg_inf<T>();
      delta_s[r] = i < sh.L ? delta[b * sh.L + i] : T(0);
    }
    __syncthreads();

    for (int ii = 0; ii < kTile; ++ii) {
      T part_s = T(0), part_dp = T(0);
#pragma unroll
      for (int t = 0; t < kPer; ++t) {
        part_s += qs[ii][g + G * t] * kr[t];
        part_dp += dos[ii][g + G * t] * vr[t];
      }
      const T p = prob(score(team_sum<G>(part_s), i0 + ii, j), lse_s[ii]);
      const T ds = p * (team_sum<G>(part_dp) - delta_s[ii]);
#pragma unroll
      for (int t = 0; t < kPer; ++t) {
        dv_acc[t] += p * dos[ii][g + G * t];
        dk_acc[t] += ds * qs[ii][g + G * t];
      }
    }
  }
  store_row<G>(dk + b * sh.S * sh.E, dk_acc, j, sh.S, sh.E, g, T(1));
  store_row<G>(dv + b * sh.S * sh.Ev, dv_acc, j, sh.S, sh.Ev, g, T(1));
}

// dq. Grid: one block per (b, block of kRows queries), b major; the keys and values stream through
// shared memory as in the forward.
template <class T, int kD>
__global__ void __launch_bounds__(kRows * (kD / kPer))
    attention_backward_dq_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const T* __restrict__ dout, const T* __restrict__ lse, const T* __restrict__ delta,
                                 StridedView mask, bool mask_is_bool, T* __restrict__ dq, AttentionShape sh,
                                 int64_t row_blocks) {
  constexpr int G = kD / kPer, kTile = tile_rows<T>();
  __shared__ T ks[kTile][kD], vs[kTile][kD];
  const int team = threadIdx.x / G, g = threadIdx.x % G;
  const int64_t b = blockIdx.x / row_blocks, first_row = (blockIdx.x % row_blocks) * kRows;
  const int64_t i = first_row + team;
  const Scorer<T> score{slice_mask(mask, mask_is_bool, b), sh.L, sh.S, sh.causal};

  T qr[kPer], dor[kPer], dq_acc[kPer];
  load_row<G>(qr, q + b * sh.L * sh.E, i, sh.L, sh.E, g, T(sh.scale));
  load_row<G>(dor, dout + b * sh.L * sh.Ev, i, sh.L, sh.Ev, g, T(1));
#pragma unroll
  for (int t = 0; t < kPer; ++t) dq_acc[t] = T(0);
  const T lse_i = i < sh.L ? lse[b * sh.L + i] : neg_inf<T>();
  const T delta_i = i < sh.L ? delta[b * sh.L + i] : T(0);

  const int64_t keys = key_end(sh, first_row);
  for (int64_t j0 = 0; j0 < keys; j0 += kTile) {
    __syncthreads();
    load_tile<kD, kTile>(ks, k + b * sh.S * sh.E, j0, sh.S, sh.E, T(1));
    load_tile<kD, kTile>(vs, v + b * sh.S * sh.Ev, j0, sh.S, sh.Ev, T(1));
    __syncthreads();

    for (int jj = 0; jj < kTile; ++jj) {
      T part_s = T(0), part_dp = T(0);
#pragma unroll
      for (int t = 0; t < kPer; ++t) {
        part_s += qr[t] * ks[jj][g + G * t];
        part_dp += dor[t] * vs[jj][g + G * t];
      }
      const T p = prob(score(team_sum<G>(part_s), i, j0 + jj), lse_i);
      const T ds = p * (team_sum<G>(part_dp) - delta_i);
#pragma unroll
      for (int t = 0; t < kPer; ++t) dq_acc[t] += ds * ks[jj][g + G * t];
    }
  }
  store_row<G>(dq + b * sh.L * sh.E, dq_acc, i, sh.L, sh.E, g, T(sh.scale));
}

// ---- launchers ----------------------------------------------------------------------------------------------

// Calls fn(std::integral_constant<int, kD>{}) with the smallest padded head dim kD >= dim.
template <class Fn> void with_head_dim(int64_t dim, Fn&& fn) {
  if (dim <= 16) fn(std::integral_constant<int, 16>{});
  else if (dim <= 32) fn(std::integral_constant<int, 32>{});
  else if (dim <= 64) fn(std::integral_constant<int, 64>{});
  else fn(std::integral_constant<int, 128>{});
}

// Blocks of kRows rows over n rows of each of the BH slices; checked against the grid's limit.
int64_t blocks_of(const AttentionShape& sh, int64_t n, const char* op) {
  const int64_t per_slice = (n + kRows - 1) / kRows;
  ATTO_CHECK(per_slice * sh.BH <= int64_t(std::numeric_limits<int>::max()),
             "[{}] too many blocks: {} slices of {} rows", op, sh.BH, n);
  return per_slice;
}

void check_shape(const AttentionShape& sh, const char* op) {
  ATTO_CHECK(sh.E <= kAttentionMaxHeadDim && sh.Ev <= kAttentionMaxHeadDim,
             "[{}] head dims up to {} are supported, got E = {}, Ev = {}", op, kAttentionMaxHeadDim, sh.E, sh.Ev);
}

}  // namespace

template <class T>
void attention_forward(const T* q, const T* k, const T* v, const StridedView& mask, bool mask_is_bool, T* out,
                       T* lse, const AttentionShape& sh) {
  constexpr const char* op = "attention_forward";
  check_shape(sh, op);
  if (sh.BH == 0 || sh.L == 0) return;
  const int64_t row_blocks = blocks_of(sh, sh.L, op);
  cudaStream_t s = stream(device_of(out));
  with_head_dim(std::max(sh.E, sh.Ev), [&](auto kd) {
    constexpr int kD = decltype(kd)::value;
    attention_forward_kernel<T, kD><<<unsigned(row_blocks * sh.BH), kRows * (kD / kPer), 0, s>>>(
        q, k, v, mask, mask_is_bool, out, lse, sh, row_blocks);
    CUDA_CHECK_LAUNCH("attention_forward_kernel");
  });
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* out, const T* dout, const T* lse,
                        const StridedView& mask, bool mask_is_bool, T* delta, T* dq, T* dk, T* dv,
                        const AttentionShape& sh) {
  constexpr const char* op = "attention_backward";
  check_shape(sh, op);
  if (sh.BH == 0) return;
  cudaStream_t s = stream(device_of(sh.S > 0 ? dk : dq));
  const int64_t rows = sh.BH * sh.L;
  if (rows > 0) {
    attention_delta_kernel<T><<<blocks_for(rows), kThreads, 0, s>>>(out, dout, delta, rows, sh.Ev);
    CUDA_CHECK_LAUNCH("attention_delta_kernel");
  }
  const int64_t key_blocks = blocks_of(sh, sh.S, op), row_blocks = blocks_of(sh, sh.L, op);
  with_head_dim(std::max(sh.E, sh.Ev), [&](auto kd) {
    constexpr int kD = decltype(kd)::value;
    if (key_blocks > 0) {
      attention_backward_dkdv_kernel<T, kD><<<unsigned(key_blocks * sh.BH), kRows * (kD / kPer), 0, s>>>(
          q, k, v, dout, lse, delta, mask, mask_is_bool, dk, dv, sh, key_blocks);
      CUDA_CHECK_LAUNCH("attention_backward_dkdv_kernel");
    }
    if (row_blocks > 0) {
      attention_backward_dq_kernel<T, kD><<<unsigned(row_blocks * sh.BH), kRows * (kD / kPer), 0, s>>>(
          q, k, v, dout, lse, delta, mask, mask_is_bool, dq, sh, row_blocks);
      CUDA_CHECK_LAUNCH("attention_backward_dq_kernel");
    }
  });
}

#define ATTO_INSTANTIATE(T)                                                                                  \
  template void attention_forward<T>(const T*, const T*, const T*, const StridedView&, bool, T*, T*,         \
                                     const AttentionShape&);                                                 \
  template void attention_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*,            \
                                      const StridedView&, bool, T*, T*, T*, T*, const AttentionShape&);
ATTO_INSTANTIATE(float)
ATTO_INSTANTIATE(double)
#undef ATTO_INSTANTIATE

}  // namespace atto::cuda
