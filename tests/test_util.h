// tests/test_util.h -- helpers shared by the tests: element-wise comparison with a report.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
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
    bool ok = std::isnan(b[i]) ? std::isnan(av[i]) : std::abs(av[i] - b[i]) <= atol + rtol * std::abs(b[i]);
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
