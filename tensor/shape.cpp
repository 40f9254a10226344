// tensor/shape.cpp -- the shape formulas declared in shape.h.
#include "tensor/shape.h"

#include <algorithm>

namespace atto {

Strides contiguous_strides(const Shape& s) {
  Strides st = Shape::filled(s.size(), 1);
  for (int i = s.size() - 2; i >= 0; --i) st[i] = st[i + 1] * std::max<int64_t>(s[i + 1], 1);
  return st;
}

std::vector<int64_t> memory_order(const Strides& strides, int n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int d = 0; d < n; ++d) order[static_cast<size_t>(d)] = d;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return strides[x] > strides[y]; });
  return order;
}

int normalize_dim(int64_t dim, int ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;   // a 0-d tensor accepts dim 0 / -1
  ATTO_CHECK(dim >= lo && dim <= hi, "[{}] dim {} is out of range for a tensor with {} dims (expected {}..{})", op,
             dim, ndim, lo, hi);
  return int(dim < 0 ? dim + std::max(ndim, 1) : dim);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  int n = std::max(a.size(), b.size());
  Shape out = Shape::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    ATTO_CHECK(da == db || da == 1 || db == 1,
               "[{}] shapes {} and {} cannot be broadcast: size {} vs {} at dim {} (sizes must match or be 1)", op, a,
               b, da, db, i);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace atto
