// tests/tensor/test_vec_math.cpp -- the vectorisable float exp, erf and tanh (tensor/cpu/vec_math.h),
// and the sigmoid op's formula built on exp, against the std:: functions in double, rounded to float: every 4099th
// float bit pattern (both signs, all exponents, NaNs and infinities included) plus the edges of the
// ranges.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/vec_math.h"
#include "tensor/elementwise_fns.h"

namespace {

// Distance in units in the last place between two floats (0 when both are NaN).
int64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  auto ordered = [](float x) {   // float bits mapped to integers that order like the floats
    int64_t i = std::bit_cast<int32_t>(x);
    return i < 0 ? int64_t(INT32_MIN) - i : i;
  };
  return std::abs(ordered(a) - ordered(b));
}

std::vector<float> test_floats() {
  std::vector<float> xs;
  for (uint64_t bits = 0; bits <= UINT32_MAX; bits += 4099) xs.push_back(std::bit_cast<float>(uint32_t(bits)));
  for (float x : {0.0f, -0.0f, 88.72f, 88.7228394f, 88.73f, -87.33f, -103.9f, -104.0f, -104.1f, -150.0f, 0.921875f,
                  -0.921875f, 0.9219f, -88.7228394f, -88.72284f, 0.625f, -0.625f, 0.6249999f, 9.0f, 9.01f, -9.02f,
                  10.0f, 10.1f, 3.92f, 4.0f, 4.1f, 1e-30f, -1e-30f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                  std::numeric_limits<float>::denorm_min()})
    xs.push_back(x);
  return xs;
}

// The largest error over test_floats(), and where it is, for a loop written as the kernels write it.
template <class Fast, class Exact> std::pair<int64_t, float> max_ulp_error(const Fast& fast, const Exact& exact) {
  const std::vector<float> xs = test_floats();
  std::vector<float> ys(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = fast(xs[i]);
  int64_t worst = 0;
  float where = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    int64_t e = ulp_distance(ys[i], float(exact(double(xs[i]))));
    if (e > worst) worst = e, where = xs[i];
  }
  return {worst, where};
}

}  // namespace

TEST_CASE("exp_f32 is within 2 ulp of std exp over the whole float range") {
  auto [worst, where] = max_ulp_error([](float x) { return atto::cpu::exp_f32(x); }, [](double x) { return std::exp(x); });
  INFO("worst at x = " << where);
  CHECK(worst <= 2);
  CHECK(atto::cpu::exp_f32(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(atto::cpu::exp_f32(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(atto::cpu::exp_f32(89.0f) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(atto::cpu::exp_f32(std::numeric_limits<float>::quiet_NaN())));
  CHECK(atto::cpu::exp_f32(0.0f) == 1.0f);
}

TEST_CASE("erf_f32 is within 2 ulp of std erf over the whole float range") {
  auto [worst, where] = max_ulp_error([](float x) { return atto::cpu::erf_f32(x); }, [](double x) { return std::erf(x); });
  INFO("worst at x = " << where);
  CHECK(worst <= 2);
  CHECK(atto::cpu::erf_f32(std::numeric_limits<float>::infinity()) == 1.0f);
  CHECK(atto::cpu::erf_f32(-std::numeric_limits<float>::infinity()) == -1.0f);
  CHECK(std::isnan(atto::cpu::erf_f32(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::signbit(atto::cpu::erf_f32(-0.0f)));
}

TEST_CASE("tanh_f32 is within 2 ulp of std tanh over the whole float range") {
  auto [worst, where] =
      max_ulp_error([](float x) { return atto::cpu::tanh_f32(x); }, [](double x) { return std::tanh(x); });
  INFO("worst at x = " << where);
  CHECK(worst <= 2);
  CHECK(atto::cpu::tanh_f32(std::numeric_limits<float>::infinity()) == 1.0f);
  CHECK(atto::cpu::tanh_f32(-std::numeric_limits<float>::infinity()) == -1.0f);
  CHECK(atto::cpu::tanh_f32(20.0f) == 1.0f);
  CHECK(std::isnan(atto::cpu::tanh_f32(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::signbit(atto::cpu::tanh_f32(-0.0f)));
}

// The sigmoid op's float formula, 1 / (1 + exp_f32(-x)) (fns::Sigmoid, also the LSTM cell's gates).
TEST_CASE("float sigmoid is within 2 ulp of 1 / (1 + exp(-x)) in double where it does not flush") {
  auto sigmoid = [](float x) { return atto::fns::Sigmoid{}.fwd(x); };
  // From x = -88.7228 down, e^-x overflows float and the result is 0, as with std::exp in float (the
  // exact value is then below 3e-39, a subnormal): compared from there up.
  const std::vector<float> xs = test_floats();
  int64_t worst = 0;
  float where = 0;
  for (float x : xs) {
    if (x <= -88.7228394f) {
      CHECK(sigmoid(x) == 0.0f);
      continue;
    }
    const int64_t e = ulp_distance(sigmoid(x), float(1.0 / (1.0 + std::exp(-double(x)))));
    if (e > worst) worst = e, where = x;
  }
  INFO("worst at x = " << where);
  CHECK(worst <= 2);
}
