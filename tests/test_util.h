// tests/test_util.h -- helpers shared by the tests: element-wise comparison with a report.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attograd.h"

namespace atto::testing {

// |a - b| <= atol + rtol * |b| for every element (b is the reference); on failure the message
// shows the first bad element.
inline bool allclose(const Tensor& a, const std::vector<double>& b, double rtol = 1e-5, double atol = 1e-6,
                     std::string* why = nullptr) {
  std::vector<double> av = a.to_vector<double>();
  if (av.size() != b.size()) {
    if (why) *why = fmt::format("size {} vs reference size {}", av.size(), b.size());
    return false;
  }
  for (size_t i = 0; i < av.size(); ++i) {
    bool ok = std::isnan(b[i]) ? std::isnan(av[i])
                              : (av[i] == b[i] || std::abs(av[i] - b[i]) <= atol + rtol * std::abs(b[i]));
    if (!ok) {
      if (why) *why = fmt::format("element {}: got {} expected {}", i, av[i], b[i]);
      return false;
    }
  }
  return true;
}

inline bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-6,
                     std::string* why = nullptr) {
  if (a.shape() != b.shape()) {
    if (why) *why = fmt::format("shape {} vs {}", a.shape(), b.shape());
    return false;
  }
  return allclose(a, b.to_vector<double>(), rtol, atol, why);
}

template <class B> bool allclose_why(std::string& why, const Tensor& a, const B& b, double rtol = 1e-5,
                                     double atol = 1e-6) {
  return allclose(a, b, rtol, atol, &why);
}

}  // namespace atto::testing

// CHECK_ALLCLOSE(a, b[, rtol, atol]) -- reports the first differing element.
#define CHECK_ALLCLOSE(...)                                        \
  do {                                                             \
    std::string why_;                                              \
    bool ok_ = ::atto::testing::allclose_why(why_, __VA_ARGS__);   \
    CHECK_MESSAGE(ok_, why_);                                      \
  } while (0)

namespace atto::testing {

// Test inputs from std::mt19937 (independent of the library's own Generator): uniform in [lo, hi),
// optionally kept at least `gap` away from each value in `avoid` (kinks of relu/abs/clamp).
inline Tensor uniform(const Shape& shape, double lo, double hi, uint64_t seed, DType dtype = kFloat64,
                      std::vector<double> avoid = {}, double gap = 0.05) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(size_t(shape.numel()));
  for (auto& x : v) {
    for (;;) {
      x = u(rng);
      bool near = false;
      for (double a : avoid) near = near || std::abs(x - a) < gap;
      if (!near) break;
    }
  }
  return from_vector<double>(v, shape).to(dtype);
}

}  // namespace atto::testing

// CHECK_GRADCHECK(fn, inputs[, options]) -- fails with gradcheck's report.
#define CHECK_GRADCHECK(...)                                 \
  do {                                                       \
    auto rep_ = ::atto::gradcheck(__VA_ARGS__);              \
    CHECK_MESSAGE(rep_.ok, rep_.str());                      \
    CHECK(rep_.checked > 0);                                 \
  } while (0)
