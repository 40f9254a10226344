// tensor/cpu/copy.cpp -- strided copy with dtype conversion: the kernel behind contiguous(), clone(),
// to(dtype), copy_() and fill_(). Twin: cuda/copy.cu.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/dtype.h"

namespace atto::cpu {

void copy(StridedView dst, DType dst_dtype, StridedView src, DType src_dtype) {
  visit_dtype(dst_dtype, "copy", [&](auto dst_tag) {
    using D = decltype(dst_tag);
    visit_dtype(src_dtype, "copy", [&](auto src_tag) {
      using S = decltype(src_tag);
      map_strided<D, S>([](S x) { return static_cast<D>(x); }, dst, src);
    });
  });
}

void fill(StridedView dst, DType dtype, double value) {
  visit_dtype(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(value);
    map_strided<T>([v]() { return v; }, dst);
  });
}

}  // namespace atto::cpu
