// cuda/copy.cu -- strided copy with dtype conversion, and fill (cuda/copy.h). Twin:
// tensor/cpu/copy.cpp. Both are one map_strided (cuda/loops.cuh) over every dtype pair; the
// conversions are C++ static_casts, as on the CPU (bool: x != 0; float -> int64 truncates).
#include "cuda/copy.h"
#include "cuda/loops.cuh"

namespace atto::cuda {

namespace {

template <class D, class S> struct Convert {
  __device__ D operator()(S x) const { return static_cast<D>(x); }
};

template <class T> struct Constant {
  T value;
  __device__ T operator()() const { return value; }
};

}  // namespace

void copy(StridedView dst, DType dst_dtype, StridedView src, DType src_dtype) {
  visit_dtype(dst_dtype, "copy", [&](auto dst_tag) {
    using D = decltype(dst_tag);
    visit_dtype(src_dtype, "copy", [&](auto src_tag) {
      using S = decltype(src_tag);
      map_strided<D, S>(Convert<D, S>{}, dst, src);
    });
  });
}

void fill(StridedView dst, DType dtype, double value) {
  visit_dtype(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    map_strided<T>(Constant<T>{static_cast<T>(value)}, dst);
  });
}

}  // namespace atto::cuda
