// tensor/elementwise_fns.h -- elementwise math, written once: each functor holds the value formula
// and its derivative, for the CPU loop (tensor/cpu/elementwise.h) and the CUDA kernel alike.
// Header-only, no Tensor, so .cu files may include it. The ops built from these functors are in
// autograd/functions/elementwise.cpp; formulas follow PyTorch's (tools/autograd/derivatives.yaml)
// so results and kink conventions match.
//
// Unary functor:   fwd(x) -> y                 bwd(x, y, dy) -> dx
//   op      the user-facing name, used in error messages ("[exp] ...")
//   name    the grad_fn name ("ExpBackward")
//   saves   what bwd reads: kSavesX | kSavesY (the other argument is a stand-in, never read)
//   ints    what an int64/bool input does: Keep (computed in int64), Promote (converted to float32
//           first, as torch.exp does), Reject (an error, as torch.gelu does)
//   grad_is_dy (optional)  bwd is the identity: backward hands dy on without a kernel
// Binary functor:  fwd(a, b) -> y              bwd_a(a, b, y, dy) -> da,  bwd_b(a, b, y, dy) -> db
//   op, name, saves (kSavesY: bwd reads y; a and b are always there)
//   linear (optional)  da = dy * scale_a(), db = dy * scale_b(): backward needs no saved input
// Functors may carry parameters (a slope, an exponent, a scalar operand) as members; a scalar operand
// is stored as double and converted to T at use, as PyTorch converts a Python number to the
// tensor's dtype.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/cpu/vec_math.h"
#include "tensor/strided.h"   // ATTO_HD

namespace atto::fns {

inline constexpr int kSavesNone = 0, kSavesX = 1, kSavesY = 2;
enum class Ints { Keep, Promote, Reject };
// Which gradient of a binary functor a backward kernel computes: bwd_a (A) or bwd_b (B). Both
// backends' kernels take it (cpu::Side and cuda::Side name this one enum).
enum class Side { A, B };

// a^b for integers, as PyTorch's powi: negative exponents give 0 except for bases 1 and -1.
ATTO_HD inline int64_t powi(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
  int64_t r = 1;
  while (b) {
    if (b & 1) r *= a;
    a *= a;
    b >>= 1;
  }
  return r;
}

template <class T> ATTO_HD T pow_any(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(powi(int64_t(a), int64_t(b)));
  else return std::pow(a, b);
}

// ---- unary --------------------------------------------------------------------------------------------

struct Neg {   // y = -x;  dy/dx = -1
  static constexpr const char* op = "neg";
  static constexpr const char* name = "NegBackward";
  static constexpr int saves = kSavesNone;
  static constexpr Ints ints = Ints::Keep;
  template <class T> ATTO_HD T fwd(T x) const { return -x; }
  template <class T> ATTO_HD T bwd(T, T, T dy) const { return -dy; }
};

struct Abs {   // y = |x|;  dy/dx = sign(x), 0 at 0
  static constexpr const char* op = "abs";
  static constexpr const char* name = "AbsBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Keep;
  template <class T> ATTO_HD T fwd(T x) const { return std::abs(x); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return x > 0 ? dy : x < 0 ? -dy : T(0); }
};

struct Exp {   // y = e^x;  dy/dx = e^x = y
  static constexpr const char* op = "exp";
  static constexpr const char* name = "ExpBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::exp(x); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return dy * y; }
};

struct Log {   // y = ln x;  dy/dx = 1/x
  static constexpr const char* op = "log";
  static constexpr const char* name = "LogBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::log(x); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return dy / x; }
};

struct Log1p {   // y = ln(1 + x);  dy/dx = 1/(1 + x)
  static constexpr const char* op = "log1p";
  static constexpr const char* name = "Log1pBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::log1p(x); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return dy / (x + T(1)); }
};

struct Sqrt {   // y = sqrt(x);  dy/dx = 1/(2 sqrt(x)) = 1/(2y)
  static constexpr const char* op = "sqrt";
  static constexpr const char* name = "SqrtBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::sqrt(x); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return dy / (T(2) * y); }
};

struct Rsqrt {   // y = x^(-1/2);  dy/dx = -1/2 x^(-3/2) = -y^3/2
  static constexpr const char* op = "rsqrt";
  static constexpr const char* name = "RsqrtBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return T(1) / std::sqrt(x); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return T(-0.5) * dy * y * y * y; }
};

struct Sin {   // y = sin x;  dy/dx = cos x
  static constexpr const char* op = "sin";
  static constexpr const char* name = "SinBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::sin(x); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return dy * std::cos(x); }
};

struct Cos {   // y = cos x;  dy/dx = -sin x
  static constexpr const char* op = "cos";
  static constexpr const char* name = "CosBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Promote;
  template <class T> ATTO_HD T fwd(T x) const { return std::cos(x); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return -dy * std::sin(x); }
};

// exp, erf and tanh for the functors: in host code, for float, the vectorisable exp_f32 / erf_f32 /
// tanh_f32 (tensor/cpu/vec_math.h), so that their contiguous loops run several elements at a time;
// otherwise (double, CUDA) the std:: functions.
template <class T> [[gnu::always_inline]] inline ATTO_HD T vec_exp(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return cpu::exp_f32(x);
#endif
  return std::exp(x);
}
template <class T> [[gnu::always_inline]] inline ATTO_HD T vec_erf(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return cpu::erf_f32(x);
#endif
  return std::erf(x);
}
template <class T> [[gnu::always_inline]] inline ATTO_HD T vec_tanh(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return cpu::tanh_f32(x);
#endif
  return std::tanh(x);
}

struct Tanh {   // y = tanh x;  dy/dx = 1 - y^2
  static constexpr const char* op = "tanh";
  static constexpr const char* name = "TanhBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Promote;
  template <class T> [[gnu::always_inline]] ATTO_HD T fwd(T x) const { return vec_tanh(x); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return dy * (T(1) - y * y); }
};

struct Sigmoid {   // y = 1/(1 + e^-x);  dy/dx = y (1 - y)
  static constexpr const char* op = "sigmoid";
  static constexpr const char* name = "SigmoidBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Promote;
  template <class T> [[gnu::always_inline]] ATTO_HD T fwd(T x) const { return T(1) / (T(1) + vec_exp(-x)); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return dy * y * (T(1) - y); }
};

struct Relu {   // y = max(x, 0) (NaN stays NaN);  dy/dx = 1 where y > 0, else 0 (0 at the kink, as PyTorch)
  static constexpr const char* op = "relu";
  static constexpr const char* name = "ReluBackward";
  static constexpr int saves = kSavesY;
  static constexpr Ints ints = Ints::Keep;
  template <class T> ATTO_HD T fwd(T x) const { return x < T(0) ? T(0) : x; }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return y > T(0) ? dy : T(0); }
};

struct LeakyRelu {   // y = x > 0 ? x : slope x;  dy/dx = x > 0 ? 1 : slope (slope at 0, as PyTorch)
  static constexpr const char* op = "leaky_relu";
  static constexpr const char* name = "LeakyReluBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Reject;
  double slope = 0.01;
  template <class T> ATTO_HD T fwd(T x) const { return x > T(0) ? x : x * T(slope); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const { return x > T(0) ? dy : dy * T(slope); }
};

// GELU, exact:  y = x Phi(x) = x/2 (1 + erf(x/sqrt2));  dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi)
// GELU, tanh:   y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
//               dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)

// Two functors, not one with a flag: a run-time flag inside the loop body keeps GCC from
// vectorising the exact GELU's loop. Always inlined, as their erf and exp: out of line, the loop
// would make one call per element.
struct Gelu {   // exact
  static constexpr const char* op = "gelu";
  static constexpr const char* name = "GeluBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Reject;
  static constexpr double kSqrt1_2 = 0.70710678118654752440;        // 1/sqrt(2)
  static constexpr double kInvSqrt2Pi = 0.39894228040143267794;     // 1/sqrt(2 pi)
  template <class T> [[gnu::always_inline]] ATTO_HD T fwd(T x) const {
    return x * T(0.5) * (T(1) + vec_erf(x * T(kSqrt1_2)));
  }
  template <class T> [[gnu::always_inline]] ATTO_HD T bwd(T x, T, T dy) const {
    T cdf = T(0.5) * (T(1) + vec_erf(x * T(kSqrt1_2)));
    T pdf = vec_exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
    return dy * (cdf + x * pdf);
  }
};

struct GeluTanh {
  static constexpr const char* op = "gelu";
  static constexpr const char* name = "GeluBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Reject;
  static constexpr double kSqrt2OverPi = 0.79788456080286535588;    // sqrt(2/pi)
  static constexpr double kKappa = 0.044715;
  template <class T> ATTO_HD T fwd(T x) const {
    T u = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
    return T(0.5) * x * (T(1) + std::tanh(u));
  }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const {
    T u = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
    T t = std::tanh(u);
    T du = T(kSqrt2OverPi) * (T(1) + T(3 * kKappa) * x * x);
    return dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
  }
};

struct Silu {   // y = x sigmoid(x) = x/(1 + e^-x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)
  static constexpr const char* op = "silu";
  static constexpr const char* name = "SiluBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Reject;
  template <class T> ATTO_HD T fwd(T x) const { return x / (T(1) + std::exp(-x)); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const {
    T s = T(1) / (T(1) + std::exp(-x));
    return dy * s * (T(1) + x * (T(1) - s));
  }
};

// y = beta x > threshold ? x : ln(1 + e^(beta x)) / beta  (PyTorch's linear regime above threshold)
// dy/dx = beta x > threshold ? 1 : z/(z + 1), z = e^(beta x)
struct Softplus {
  static constexpr const char* op = "softplus";
  static constexpr const char* name = "SoftplusBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Reject;
  double beta = 1, threshold = 20;
  template <class T> ATTO_HD T fwd(T x) const {
    T bx = x * T(beta);
    return bx > T(threshold) ? x : std::log1p(std::exp(bx)) / T(beta);
  }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const {
    T bx = x * T(beta);
    if (bx > T(threshold)) return dy;
    T z = std::exp(bx);
    return dy * z / (z + T(1));
  }
};

struct Clamp {   // y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi (bounds included, as PyTorch), else 0
  static constexpr const char* op = "clamp";
  static constexpr const char* name = "ClampBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Promote;   // float bounds make a float result, as torch.clamp
  double lo = 0, hi = 0;
  bool has_lo = false, has_hi = false;
  template <class T> ATTO_HD T fwd(T x) const {
    if (has_lo && x < T(lo)) x = T(lo);
    if (has_hi && x > T(hi)) x = T(hi);
    return x;
  }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const {
    bool in = (!has_lo || x >= T(lo)) && (!has_hi || x <= T(hi));
    return in ? dy : T(0);
  }
};

// ---- unary with a scalar operand c ------------------------------------------------------------------------
// An int64 tensor keeps int64 only for an integral c (the caller converts it otherwise).

struct AddScalar {   // y = x + c;  dy/dx = 1
  static constexpr const char* op = "add";
  static constexpr const char* name = "AddBackward";
  static constexpr int saves = kSavesNone;
  static constexpr Ints ints = Ints::Keep;
  static constexpr bool grad_is_dy = true;
  double c = 0;
  template <class T> ATTO_HD T fwd(T x) const { return x + T(c); }
  template <class T> ATTO_HD T bwd(T, T, T dy) const { return dy; }
};

struct MulScalar {   // y = c x;  dy/dx = c
  static constexpr const char* op = "mul";
  static constexpr const char* name = "MulBackward";
  static constexpr int saves = kSavesNone;
  static constexpr Ints ints = Ints::Keep;
  double c = 1;
  template <class T> ATTO_HD T fwd(T x) const { return x * T(c); }
  template <class T> ATTO_HD T bwd(T, T, T dy) const { return dy * T(c); }
};

struct RSubScalar {   // y = c - x;  dy/dx = -1
  static constexpr const char* op = "sub";
  static constexpr const char* name = "RsubBackward";
  static constexpr int saves = kSavesNone;
  static constexpr Ints ints = Ints::Keep;
  double c = 0;
  template <class T> ATTO_HD T fwd(T x) const { return T(c) - x; }
  template <class T> ATTO_HD T bwd(T, T, T dy) const { return -dy; }
};

struct DivScalar {   // y = x / c;  dy/dx = 1/c
  static constexpr const char* op = "div";
  static constexpr const char* name = "DivBackward";
  static constexpr int saves = kSavesNone;
  static constexpr Ints ints = Ints::Promote;   // true division, as torch.div
  double c = 1;
  template <class T> ATTO_HD T fwd(T x) const { return x / T(c); }
  template <class T> ATTO_HD T bwd(T, T, T dy) const { return dy / T(c); }
};

struct RDivScalar {   // y = c / x;  dy/dx = -c/x^2 = -y/x
  static constexpr const char* op = "div";
  static constexpr const char* name = "DivBackward";
  static constexpr int saves = kSavesX | kSavesY;
  static constexpr Ints ints = Ints::Promote;
  double c = 1;
  template <class T> ATTO_HD T fwd(T x) const { return T(c) / x; }
  template <class T> ATTO_HD T bwd(T x, T y, T dy) const { return -dy * y / x; }
};

struct PowScalar {   // y = x^e;  dy/dx = e x^(e-1), and 0 for e == 0 (as PyTorch, even at x = 0)
  static constexpr const char* op = "pow";
  static constexpr const char* name = "PowBackward";
  static constexpr int saves = kSavesX;
  static constexpr Ints ints = Ints::Keep;
  double e = 1;
  template <class T> ATTO_HD T fwd(T x) const { return pow_any(x, T(e)); }
  template <class T> ATTO_HD T bwd(T x, T, T dy) const {
    return e == 0 ? T(0) : dy * T(e) * std::pow(x, T(e - 1));
  }
};

struct RPowScalar {   // y = c^x;  dy/dx = y ln c, and 0 where c == 0 and x >= 0 (as PyTorch)
  static constexpr const char* op = "pow";
  static constexpr const char* name = "PowBackward";
  static constexpr int saves = kSavesX | kSavesY;
  static constexpr Ints ints = Ints::Keep;
  double c = 1;
  template <class T> ATTO_HD T fwd(T x) const { return pow_any(T(c), x); }
  template <class T> ATTO_HD T bwd(T x, T y, T dy) const {
    return (c == 0 && x >= T(0)) ? T(0) : dy * y * std::log(T(c));
  }
};

// ---- binary -----------------------------------------------------------------------------------------------

struct Add {   // y = a + alpha b;  dy/da = 1, dy/db = alpha
  static constexpr const char* op = "add";
  static constexpr const char* name = "AddBackward";
  static constexpr int saves = kSavesNone;
  static constexpr bool linear = true;
  double alpha = 1;
  template <class T> ATTO_HD T fwd(T a, T b) const { return a + T(alpha) * b; }
  template <class T> ATTO_HD T bwd_a(T, T, T, T dy) const { return dy; }
  template <class T> ATTO_HD T bwd_b(T, T, T, T dy) const { return dy * T(alpha); }
  double scale_a() const { return 1; }
  double scale_b() const { return alpha; }
};

struct Sub {   // y = a - alpha b;  dy/da = 1, dy/db = -alpha
  static constexpr const char* op = "sub";
  static constexpr const char* name = "SubBackward";
  static constexpr int saves = kSavesNone;
  static constexpr bool linear = true;
  double alpha = 1;
  template <class T> ATTO_HD T fwd(T a, T b) const { return a - T(alpha) * b; }
  template <class T> ATTO_HD T bwd_a(T, T, T, T dy) const { return dy; }
  template <class T> ATTO_HD T bwd_b(T, T, T, T dy) const { return -dy * T(alpha); }
  double scale_a() const { return 1; }
  double scale_b() const { return -alpha; }
};

struct Mul {   // y = a * b;  dy/da = b, dy/db = a
  static constexpr const char* op = "mul";
  static constexpr const char* name = "MulBackward";
  static constexpr int saves = kSavesNone;
  template <class T> ATTO_HD T fwd(T a, T b) const { return a * b; }
  template <class T> ATTO_HD T bwd_a(T, T b, T, T dy) const { return dy * b; }
  template <class T> ATTO_HD T bwd_b(T a, T, T, T dy) const { return dy * a; }
};

struct Div {   // y = a / b;  dy/da = 1/b, dy/db = -a/b^2
  static constexpr const char* op = "div";
  static constexpr const char* name = "DivBackward";
  static constexpr int saves = kSavesNone;
  template <class T> ATTO_HD T fwd(T a, T b) const { return a / b; }
  template <class T> ATTO_HD T bwd_a(T, T b, T, T dy) const { return dy / b; }
  template <class T> ATTO_HD T bwd_b(T a, T b, T, T dy) const { return -dy * a / (b * b); }
};

// y = max(a, b), NaN if either is NaN;  dy/da = 1 where a > b, 1/2 at ties (PyTorch splits the
// gradient), 0 where a < b; dy/db the mirror image.
struct Maximum {
  static constexpr const char* op = "maximum";
  static constexpr const char* name = "MaximumBackward";
  static constexpr int saves = kSavesNone;
  template <class T> ATTO_HD T fwd(T a, T b) const { return (a > b || a != a) ? a : b; }
  template <class T> ATTO_HD T bwd_a(T a, T b, T, T dy) const { return a == b ? dy * T(0.5) : a > b ? dy : T(0); }
  template <class T> ATTO_HD T bwd_b(T a, T b, T, T dy) const { return a == b ? dy * T(0.5) : b > a ? dy : T(0); }
};

struct Minimum {   // y = min(a, b), NaN if either is NaN; gradients as Maximum's with < for >
  static constexpr const char* op = "minimum";
  static constexpr const char* name = "MinimumBackward";
  static constexpr int saves = kSavesNone;
  template <class T> ATTO_HD T fwd(T a, T b) const { return (a < b || a != a) ? a : b; }
  template <class T> ATTO_HD T bwd_a(T a, T b, T, T dy) const { return a == b ? dy * T(0.5) : a < b ? dy : T(0); }
  template <class T> ATTO_HD T bwd_b(T a, T b, T, T dy) const { return a == b ? dy * T(0.5) : b < a ? dy : T(0); }
};

// y = a^b;  dy/da = b a^(b-1) (0 where b == 0);  dy/db = y ln a (0 where a == 0 and b >= 0), as PyTorch
struct Pow {
  static constexpr const char* op = "pow";
  static constexpr const char* name = "PowBackward";
  static constexpr int saves = kSavesY;
  template <class T> ATTO_HD T fwd(T a, T b) const { return pow_any(a, b); }
  template <class T> ATTO_HD T bwd_a(T a, T b, T, T dy) const {
    return b == T(0) ? T(0) : dy * b * std::pow(a, b - T(1));
  }
  template <class T> ATTO_HD T bwd_b(T a, T b, T y, T dy) const {
    return (a == T(0) && b >= T(0)) ? T(0) : dy * y * std::log(a);
  }
};

// ---- comparisons and logic (bool results, no gradient) ----------------------------------------------------

struct Eq {
  static constexpr const char* op = "eq";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a == b; }
};
struct Ne {
  static constexpr const char* op = "ne";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a != b; }
};
struct Lt {
  static constexpr const char* op = "lt";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a < b; }
};
struct Le {
  static constexpr const char* op = "le";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a <= b; }
};
struct Gt {
  static constexpr const char* op = "gt";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a > b; }
};
struct Ge {
  static constexpr const char* op = "ge";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a >= b; }
};
struct LogicalAnd {
  static constexpr const char* op = "logical_and";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a && b; }
};
struct LogicalOr {
  static constexpr const char* op = "logical_or";
  template <class T> ATTO_HD bool fwd(T a, T b) const { return a || b; }
};

}  // namespace atto::fns
