// tensor/coalesce.h -- host-side view geometry shared by the elementwise loops of both backends
// (internal): tensor/cpu/loops.h's map_strided and cuda/loops.cuh's launcher decide their path
// with these. Header-only, no OpenMP and no Tensor, so .cu files may include it.
//
//   is_contiguous_view(v)   v's elements lie at 0, 1, 2, ... in C order (size-1 dims ignored)
//   coalesce(views)         merges adjacent dims where that is valid for all views at once and drops
//                           size-1 dims; the views keep addressing the same elements
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "tensor/strided.h"

namespace atto {

inline bool is_contiguous_view(const StridedView& v) {
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

// All N views have v[0]'s shape.
template <size_t N> void coalesce(std::array<StridedView, N>& v) {
  int nd = 0;
  int64_t shape[kMaxViewDims];
  int64_t strides[N][kMaxViewDims];
  for (int d = 0; d < v[0].ndim; ++d) {
    if (v[0].shape[d] == 1) continue;
    bool merge = nd > 0;
    for (size_t k = 0; k < N && merge; ++k) merge = strides[k][nd - 1] == v[k].strides[d] * v[0].shape[d];
    if (merge) {
      shape[nd - 1] *= v[0].shape[d];
      for (size_t k = 0; k < N; ++k) strides[k][nd - 1] = v[k].strides[d];
    } else {
      shape[nd] = v[0].shape[d];
      for (size_t k = 0; k < N; ++k) strides[k][nd] = v[k].strides[d];
      ++nd;
    }
  }
  for (size_t k = 0; k < N; ++k) {
    v[k].ndim = nd;
    for (int d = 0; d < nd; ++d) {
      v[k].shape[d] = shape[d];
      v[k].strides[d] = strides[k][d];
    }
  }
}

}  // namespace atto
