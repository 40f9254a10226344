// tensor/strided.h -- StridedView: what a kernel receives instead of a Tensor (plain pointer, sizes,
// element strides). Header-only and free of the Tensor class, so .cu files may include it.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define ATTO_HD __host__ __device__
#else
#define ATTO_HD
#endif

namespace atto {

inline constexpr int kMaxViewDims = 8;

struct StridedView {
  void* data = nullptr;
  int ndim = 0;
  int64_t shape[kMaxViewDims] = {};
  int64_t strides[kMaxViewDims] = {};   // in elements

  ATTO_HD int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  template <class T> ATTO_HD T* ptr() const { return static_cast<T*>(data); }
};

}  // namespace atto
