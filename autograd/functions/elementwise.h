// autograd/functions/elementwise.h -- differentiable elementwise ops: unary math, binary arithmetic
// with NumPy broadcasting and type promotion, scalar forms, comparisons, where/masked_fill.
//
// Type promotion follows PyTorch:
//   * tensor-tensor: bool < int64 < float32 < float64 (promote_types), except that a 0-d tensor only
//     decides the dtype when it is of a higher kind (bool < integer < floating) than the others:
//     float32 [3] + float64 0-d is float32; int64 [3] + float64 0-d is float64 (result_type).
//   * tensor-scalar: a Scalar is a Python number. A double acts as a float, an integer as an int:
//     int64 * 2 stays int64, int64 * 2.5 is float32, bool + 1 is int64, float32 * 2.5 stays float32
//     (the scalar is rounded to float32, as PyTorch does).
//   * div is true division: int64 / int64 is float32.
//   * comparisons return bool tensors, computed in the promoted dtype; no gradient flows through them.
#pragma once
#include <concepts>
#include <optional>

#include "tensor/tensor.h"

namespace atto {

// A number operand: elementwise ops take it on either side of a tensor without allocating a tensor.
struct Scalar {
  double value;
  bool integral;   // an integer (Python int) rather than a floating number (Python float)
  Scalar(double v) : value(v), integral(false) {}
  template <std::integral I> Scalar(I v) : value(double(v)), integral(true) {}
};

// The dtype a binary op on a and b computes in and returns (see above).
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, Scalar b);

// ---- unary ------------------------------------------------------------------------------------------
// Math functions (exp, log, ...) turn int64/bool inputs into float32, as PyTorch; neg, abs, relu keep
// int64; the activations leaky_relu, gelu, silu, softplus need floating inputs.
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// GeluApprox::None is the exact erf form; Tanh is PyTorch's approximate='tanh'.
enum class GeluApprox { None, Tanh };
Tensor gelu(const Tensor& x, GeluApprox approximate = GeluApprox::None);
Tensor silu(const Tensor& x);
// PyTorch's softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
// At least one bound. The gradient passes where min <= x <= max (bounds included, as PyTorch).
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max = std::nullopt);
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);

// ---- binary, with broadcasting and type promotion ----------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, const Tensor& b, double alpha);   // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b, double alpha);   // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// Elementwise max/min; NaN wins. At ties the gradient is split half and half, as PyTorch.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);

// ---- with a scalar on either side (no 0-d tensor is allocated) ----------------------------------------------
Tensor add(const Tensor& a, Scalar b);
Tensor add(Scalar a, const Tensor& b);
Tensor sub(const Tensor& a, Scalar b);
Tensor sub(Scalar a, const Tensor& b);
Tensor mul(const Tensor& a, Scalar b);
Tensor mul(Scalar a, const Tensor& b);
Tensor div(const Tensor& a, Scalar b);
Tensor div(Scalar a, const Tensor& b);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor pow(Scalar base, const Tensor& exponent);

// ---- comparisons and logic: bool results, broadcasting, no gradient ------------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
// Any dtype; nonzero counts as true.
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

// ---- selection ------------------------------------------------------------------------------------------------
// cond ? a : b, all three broadcast together; cond must be bool. Differentiable in a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor where(const Tensor& cond, Scalar a, const Tensor& b);
// x with `value` where mask (bool, broadcast with x) is true. Differentiable in x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---- operators ----------------------------------------------------------------------------------------------------
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
inline Tensor operator+(Scalar a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(Scalar a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(Scalar a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(Scalar a, const Tensor& b) { return div(a, b); }

inline Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
inline Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
inline Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
inline Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
inline Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }
inline Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }
// c < x is x > c, and so on.
inline Tensor operator==(Scalar a, const Tensor& b) { return eq(b, a); }
inline Tensor operator!=(Scalar a, const Tensor& b) { return ne(b, a); }
inline Tensor operator<(Scalar a, const Tensor& b) { return gt(b, a); }
inline Tensor operator<=(Scalar a, const Tensor& b) { return ge(b, a); }
inline Tensor operator>(Scalar a, const Tensor& b) { return lt(b, a); }
inline Tensor operator>=(Scalar a, const Tensor& b) { return le(b, a); }

}  // namespace atto
