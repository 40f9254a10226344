// tensor/cpu/index.h -- CPU kernels for the indexing ops (internal): index_select / embedding rows,
// their deterministic scatter-add backward, gather / scatter_add along one dim, one_hot.
// Used by autograd/functions/index.cpp. Indices arrive already checked to be in range.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/cpu/parallel_for.h"
#include "tensor/strided.h"

namespace atto::cpu {

// (min, max) of the n indices; (0, -1) when n == 0. For range checks before a kernel runs, so that
// kernels never throw from inside a parallel region.
inline std::pair<int64_t, int64_t> index_min_max(const int64_t* idx, int64_t n) {
  if (n == 0) return {0, -1};
  int64_t lo = idx[0], hi = idx[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, idx[i]);
    hi = std::max(hi, idx[i]);
  }
  return {lo, hi};
}

// x is (outer, n, inner) and out is (outer, k, inner), both contiguous: out[o, j, :] = x[o, idx[j], :].
template <class T>
void index_select_rows(const T* x, const int64_t* idx, T* out, int64_t outer, int64_t n, int64_t inner, int64_t k) {
  parallel_for(0, outer * k, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) {
                   const int64_t o = r / k, j = r % k;
                   std::copy_n(x + (o * n + idx[j]) * inner, inner, out + r * inner);
                 }
               });
}

// The backward of index_select_rows: dx[o, idx[j], :] += dy[o, j, :] into a zeroed dx, skipping
// j where idx[j] == skip (embedding's padding_idx; pass -1 for none).
// NOTE [ Deterministic scatter-add ]: the js are bucketed by destination row with a stable counting
// sort, then each destination row is owned by one thread and adds its js in ascending order. No
// two threads write the same row, and the additions happen in the same order at any thread count.
template <class T>
void index_add_rows(T* dx, const int64_t* idx, const T* dy, int64_t outer, int64_t n, int64_t inner, int64_t k,
                    int64_t skip) {
  std::vector<int64_t> start(static_cast<size_t>(n) + 1, 0), order(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) ++start[size_t(idx[j]) + 1];
  for (int64_t r = 0; r < n; ++r) start[size_t(r) + 1] += start[size_t(r)];
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t j = 0; j < k; ++j) order[size_t(fill[size_t(idx[j])]++)] = j;
  }
  const int64_t avg = std::max<int64_t>(1, inner * std::max<int64_t>(1, k / std::max<int64_t>(n, 1)));
  parallel_for(0, outer * n, std::max<int64_t>(1, kParallelGrain / avg), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / n, row = r % n;
      if (row == skip) continue;
      T* d = dx + r * inner;
      for (int64_t s = start[size_t(row)]; s < start[size_t(row) + 1]; ++s) {
        const T* g = dy + (o * k + order[size_t(s)]) * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += g[i];
      }
    }
  });
}

// Walks the positions of `shape` with `dim` left out (its size taken as 1), in C order, split over
// threads; f(offsets) gets each view's element offset. Inner loops along `dim` are the caller's.
template <size_t N, class F>
void for_each_outside_dim(const StridedView (&v)[N], int dim, int64_t work_per_pos, const F& f) {
  const StridedView& s = v[0];
  int64_t positions = 1;
  for (int d = 0; d < s.ndim; ++d)
    if (d != dim) positions *= s.shape[d];
  if (positions == 0) return;
  parallel_for(0, positions, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work_per_pos, 1)),
               [&](int64_t b, int64_t e) {
                 int64_t coord[kMaxViewDims] = {};
                 int64_t rem = b;
                 for (int d = s.ndim - 1; d >= 0; --d) {
                   if (d == dim) continue;
                   coord[d] = rem % s.shape[d];
                   rem /= s.shape[d];
                 }
                 int64_t off[N] = {};
                 for (size_t k = 0; k < N; ++k)
                   for (int d = 0; d < s.ndim; ++d)
                     if (d != dim) off[k] += coord[d] * v[k].strides[d];
                 for (int64_t p = b; p < e; ++p) {
                   f(off);
                   for (int d = s.ndim - 1; d >= 0; --d) {   // odometer step, skipping dim
                     if (d == dim) continue;
                     ++coord[d];
                     for (size_t k = 0; k < N; ++k) off[k] += v[k].strides[d];
                     if (coord[d] < s.shape[d]) break;
                     for (size_t k = 0; k < N; ++k) off[k] -= coord[d] * v[k].strides[d];
                     coord[d] = 0;
                   }
                 }
               });
}

// out[p] = x[p with p[dim] replaced by idx[p]]; out and idx have the index's shape, x's view has
// x's strides (its sizes outside dim restricted to the index's).
template <class T> void gather(StridedView out, StridedView x, StridedView idx, int dim) {
  const int64_t len = idx.shape[dim];
  const int64_t so = out.strides[dim], si = idx.strides[dim], sx = x.strides[dim];
  const StridedView v[3] = {idx, out, x};
  for_each_outside_dim(v, dim, len, [&](const int64_t* off) {
    const int64_t* ip = idx.ptr<int64_t>() + off[0];
    T* op = out.ptr<T>() + off[1];
    const T* xp = x.ptr<T>() + off[2];
    for (int64_t j = 0; j < len; ++j) op[j * so] = xp[ip[j * si] * sx];
  });
}

// out[p with p[dim] replaced by idx[p]] += src[p] for every p of the index's shape, adding along
// dim in ascending order (deterministic: one thread owns each position outside dim).
template <class T> void scatter_add(StridedView out, StridedView idx, StridedView src, int dim) {
  const int64_t len = idx.shape[dim];
  const int64_t so = out.strides[dim], si = idx.strides[dim], ss = src.strides[dim];
  const StridedView v[3] = {idx, out, src};
  for_each_outside_dim(v, dim, len, [&](const int64_t* off) {
    const int64_t* ip = idx.ptr<int64_t>() + off[0];
    T* op = out.ptr<T>() + off[1];
    const T* sp = src.ptr<T>() + off[2];
    for (int64_t j = 0; j < len; ++j) op[ip[j * si] * so] += sp[j * ss];
  });
}

// out (n, classes) zeroed: out[r, idx[r]] = 1.
inline void one_hot(const int64_t* idx, int64_t* out, int64_t n, int64_t classes) {
  for (int64_t r = 0; r < n; ++r) out[r * classes + idx[r]] = 1;
}

}  // namespace atto::cpu
