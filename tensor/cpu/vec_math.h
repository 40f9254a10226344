// tensor/cpu/vec_math.h -- exp and erf for float, written so that GCC vectorises the loops that
// call them (internal). glibc's expf/erff are scalar calls, and a loop calling them runs one element
// at a time; these are plain arithmetic, bit operations and selects, no branches, no calls.
//
//   exp_f32(x)   e^x within 2 ulp of std::exp(double(x)) rounded (Cody-Waite range reduction and
//                the Cephes degree-6 polynomial); +inf above 88.72, 0 below -103.97 (subnormals in
//                between are scaled in two steps, so they come out right), NaN stays NaN.
//   erf_f32(x)   erf(x) within a few ulp (two minimax polynomials: x P(x^2) near 0, and
//                1 - exp(Q(|x|)) further out, computed both and selected).
//   tanh_f32(x)  tanh(x) within a few ulp (x + x^3 P(x^2) below 0.625, the Cephes tanhf polynomial;
//                1 - 2 / (e^(2|x|) + 1) above, with x's sign).
//
// The tests (tests/tensor/test_vec_math.cpp) compare each with the double-precision std:: functions over
// the whole float range. Always inlined: a call in a loop stops its vectorisation. Twin: none (CUDA
// has fast expf/erff of its own).
#pragma once
#include <bit>
#include <cstdint>

namespace atto::cpu {

// The range checks compare the float's bits as integers: a float comparison may raise an FP
// exception, and under GCC's default -ftrapping-math that alone stops it from vectorising a loop.
// The selects are bit masks too: written as ?:, GCC threads the constant operands into separate
// branches, and a loop with branches does not vectorise either.
[[gnu::always_inline]] inline int32_t float_bits(float x) { return std::bit_cast<int32_t>(x); }
[[gnu::always_inline]] inline float select(bool condition, float if_true, float if_false) {
  const int32_t mask = -int32_t(condition);
  return std::bit_cast<float>((float_bits(if_true) & mask) | (float_bits(if_false) & ~mask));
}

[[gnu::always_inline]] inline float exp_f32(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;      // ln 2 = kLn2Hi + kLn2Lo; n * kLn2Hi is exact for |n| < 2^9
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;   // 1.5 * 2^23: adding it rounds a float to an integer
  constexpr float kMax = 88.7228394f, kMin = -104.0f;   // e^x overflows above kMax, is 0 below kMin
  const int32_t bits = float_bits(x);
  const bool nan = (bits & 0x7fffffff) > 0x7f800000;
  const bool above = bits > float_bits(kMax);                            // x > kMax, or +NaN
  const bool below = uint32_t(bits) > uint32_t(float_bits(kMin));        // x < kMin, or -NaN
  // Out-of-range lanes compute e^0 and are replaced below: clamping them to kMin instead would
  // underflow in the last multiply, and every underflow costs a slow microcode assist (softmax
  // feeds masked scores, -inf, here all the time).
  const float xc = select(above || below, 0.0f, x);
  const float n = (xc * kLog2e + kRoundMagic) - kRoundMagic;   // round(x / ln 2), in [-150, 128]
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;             // |r| <= ln2 / 2
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;                                   // e^r
  // 2^n as two normal powers of two (n = n1 + n2, each in [-75, 64]), so that subnormal and
  // overflowing results are rounded once, by the last multiply.
  const int32_t ni = int32_t(n);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23), s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float y = p * s1 * s2;
  return select(nan, x, select(above, __builtin_inff(), select(below, 0.0f, y)));
}

[[gnu::always_inline]] inline float erf_f32(float x) {
  const int32_t bits = float_bits(x);
  const int32_t abs_bits = bits & 0x7fffffff;
  const bool negative = bits < 0;
  const float t = std::bit_cast<float>(abs_bits);   // |x|
  const float s = x * x;
  // |x| <= 0.921875: erf(x) = x + x * P(x^2).
  float small = -5.96761703e-4f;
  small = small * s + 4.99119423e-3f;
  small = small * s - 2.67681349e-2f;
  small = small * s + 1.12819925e-1f;
  small = small * s - 3.76125336e-1f;
  small = small * s + 1.28379166e-1f;
  small = small * x + x;
  // |x| > 0.921875: erf(|x|) = 1 - exp(Q(|x|)), with Q(t) ~ -t^2 - log(sqrt(pi) t) for large t.
  const float tc = select(abs_bits > float_bits(4.0f), 4.0f, t);   // erf rounds to 1 in float beyond ~3.92
  float q = -1.72853470e-5f;
  q = q * tc + 3.83197126e-4f;
  float u = -3.88396438e-3f;
  u = u * tc + 2.42546219e-2f;
  q = q * (tc * tc) + u;
  q = q * tc - 1.06777877e-1f;
  q = q * tc - 6.34846687e-1f;
  q = q * tc - 1.28717512e-1f;
  q = q * tc - tc;
  const float big = 1.0f - exp_f32(q);
  const bool nan = abs_bits > 0x7f800000;
  return select(abs_bits <= float_bits(0.921875f) || nan, small, select(negative, -big, big));
}

[[gnu::always_inline]] inline float tanh_f32(float x) {
  const int32_t bits = float_bits(x);
  const int32_t abs_bits = bits & 0x7fffffff;
  const float s = x * x;
  float p = -5.70498872745e-3f;   // |x| < 0.625: tanh(x) = x + x^3 P(x^2)
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  // x + x^3 P rounds -0 to +0; tanh keeps the sign, so put x's sign bit back (|x^3 P| < |x|: the
  // sum has x's sign anyway).
  const float small = std::bit_cast<float>(float_bits(p * s * x + x) | (bits & int32_t(0x80000000u)));
  // tanh rounds to +-1 in float beyond |x| ~ 9.01; clamping at 10 keeps e^(2|x|) finite.
  const float t = select(abs_bits > float_bits(10.0f), 10.0f, std::bit_cast<float>(abs_bits));
  const float big = 1.0f - 2.0f / (exp_f32(2.0f * t) + 1.0f);
  const bool nan = abs_bits > 0x7f800000;
  return select(abs_bits < float_bits(0.625f) || nan, small, select(bits < 0, -big, big));
}

}  // namespace atto::cpu
