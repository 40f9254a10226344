// tensor/factory.cpp -- the range and identity creators declared in tensor/tensor.h: arange,
// linspace, eye. (empty/zeros/ones/full/from_vector live in tensor/tensor.cpp.)
//
// Unlike PyTorch, whose arange(5) with integer arguments gives int64, ours takes doubles and gives
// the options' dtype: float32 unless options say otherwise (arange(5, {.dtype = kInt64})).
// Values are computed on the CPU as PyTorch's CPU kernels do, then moved to options.device.
#include <cmath>

#include "tensor/tensor.h"

namespace atto {

namespace {

// Fills a fresh contiguous CPU tensor of n elements with value(i), converted to the dtype.
template <class F> Tensor make_1d(int64_t n, TensorOptions options, const char* op, const F& value) {
  Tensor t = empty({n}, {.dtype = options.dtype});
  visit_dtype(options.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = value(i, tag);
  });
  return t;
}

Tensor finish(Tensor t, TensorOptions options) {
  if (!options.device.is_cpu()) t = t.to(options.device);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

// size = ceil((end - start) / step); value i = start + i * step, computed in double (PyTorch's
// accumulate type for float and double on the CPU), then converted.
Tensor arange(double start, double end, double step, TensorOptions options) {
  ATTO_CHECK(std::isfinite(start) && std::isfinite(end), "[arange] start and end must be finite, got start={} end={}",
             start, end);
  ATTO_CHECK(step != 0.0 && std::isfinite(step), "[arange] step must be nonzero and finite, got {}", step);
  ATTO_CHECK((step > 0 && end >= start) || (step < 0 && end <= start),
             "[arange] upper bound and larger bound inconsistent with step sign: start={} end={} step={}", start, end,
             step);
  ATTO_CHECK(options.dtype != kBool, "[arange] does not produce bool tensors");
  double size_d = std::ceil((end - start) / step);
  ATTO_CHECK(size_d >= 0 && size_d <= double(INT64_MAX / 8), "[arange] invalid size {} for start={} end={} step={}",
             size_d, start, end, step);
  Tensor t = make_1d(int64_t(size_d), options, "arange",
                     [&](int64_t i, auto tag) { return decltype(tag)(start + double(i) * step); });
  return finish(t, options);
}

Tensor arange(double end, TensorOptions options) { return arange(0.0, end, 1.0, options); }

// PyTorch's CPU linspace: step = (end - start) / (steps - 1) in the dtype's arithmetic (double for
// integers); the first half counts up from start, the second half down from end, so both ends are
// exact and the result is symmetric.
Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  ATTO_CHECK(steps >= 0, "[linspace] number of steps must be non-negative, got {}", steps);
  ATTO_CHECK(options.dtype != kBool, "[linspace] does not produce bool tensors");
  Tensor t = make_1d(steps, options, "linspace", [&](int64_t i, auto tag) {
    using T = decltype(tag);
    using S = std::conditional_t<std::is_floating_point_v<T>, T, double>;
    const S s = S(T(start)), e = S(T(end));
    if (steps == 1) return T(s);
    const S step = (e - s) / S(steps - 1);
    return i < steps / 2 ? T(s + step * S(i)) : T(e - step * S(steps - i - 1));
  });
  return finish(t, options);
}

Tensor eye(int64_t n, std::optional<int64_t> m_opt, TensorOptions options) {
  int64_t m = m_opt.value_or(n);
  ATTO_CHECK(n >= 0 && m >= 0, "[eye] n and m must be non-negative, got n={} m={}", n, m);
  bool rg = options.requires_grad;
  Tensor t = zeros({n, m}, {.dtype = options.dtype});
  visit_dtype(options.dtype, "eye", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  options.requires_grad = rg;
  return finish(t, options);
}

}  // namespace atto
