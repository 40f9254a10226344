// autograd/functions/elementwise.cpp -- the elementwise ops: one line each, from the functors in
// tensor/elementwise_fns.h plugged into UnaryOp / BinaryOp (elementwise_op.h), after type promotion;
// comparisons, where, masked_fill; and the in-place ops of the Tensor handle (add_, mul_, ...).
#include "autograd/functions/elementwise.h"

#include <cmath>

#include "autograd/functions/elementwise_op.h"

namespace atto {

// ---- type promotion -----------------------------------------------------------------------------------------

namespace {

int kind(DType t) { return t == kBool ? 0 : is_floating(t) ? 2 : 1; }   // bool < integer < floating

Tensor cast(const Tensor& t, DType dt) { return t.dtype() == dt ? t : t.to(dt); }

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  bool za = a.ndim() == 0, zb = b.ndim() == 0;
  if (za == zb) return promote_types(a.dtype(), b.dtype());
  const Tensor& dimmed = za ? b : a;
  const Tensor& zero = za ? a : b;
  return kind(zero.dtype()) > kind(dimmed.dtype()) ? zero.dtype() : dimmed.dtype();
}

DType result_type(const Tensor& a, Scalar b) {
  if (a.is_floating_point()) return a.dtype();
  return b.integral ? kInt64 : kFloat32;
}

namespace {

// ---- the op builders ---------------------------------------------------------------------------------------------

template <class Fn> Tensor unary(const Tensor& x, Fn fn = {}) {
  if constexpr (Fn::ints == fns::Ints::Promote)
    if (!x.is_floating_point()) return apply<UnaryOp<Fn>>(x.to(kFloat32), fn);
  return apply<UnaryOp<Fn>>(x, fn);
}

// x (op) s: x converted to the result dtype first (int64 * 2.5 computes in float32).
template <class Fn> Tensor with_scalar(const Tensor& x, Scalar s, Fn fn) {
  DType dt = result_type(x, s);
  if (Fn::ints == fns::Ints::Promote && !is_floating(dt)) dt = kFloat32;
  return apply<UnaryOp<Fn>>(cast(x, dt), fn);
}

template <class Fn> Tensor binary(const Tensor& a, const Tensor& b, Fn fn, bool floating_result = false) {
  DType dt = result_type(a, b);
  if (floating_result && !is_floating(dt)) dt = kFloat32;
  return apply<BinaryOp<Fn>>(cast(a, dt), cast(b, dt), fn);
}

}  // namespace

// ---- unary ---------------------------------------------------------------------------------------------------

Tensor neg(const Tensor& x) { return unary<fns::Neg>(x); }
Tensor abs(const Tensor& x) { return unary<fns::Abs>(x); }
Tensor exp(const Tensor& x) { return unary<fns::Exp>(x); }
Tensor log(const Tensor& x) { return unary<fns::Log>(x); }
Tensor log1p(const Tensor& x) { return unary<fns::Log1p>(x); }
Tensor sqrt(const Tensor& x) { return unary<fns::Sqrt>(x); }
Tensor rsqrt(const Tensor& x) { return unary<fns::Rsqrt>(x); }
Tensor sin(const Tensor& x) { return unary<fns::Sin>(x); }
Tensor cos(const Tensor& x) { return unary<fns::Cos>(x); }
Tensor tanh(const Tensor& x) { return unary<fns::Tanh>(x); }
Tensor sigmoid(const Tensor& x) { return unary<fns::Sigmoid>(x); }
Tensor relu(const Tensor& x) { return unary<fns::Relu>(x); }
Tensor leaky_relu(const Tensor& x, double negative_slope) { return unary(x, fns::LeakyRelu{negative_slope}); }
Tensor gelu(const Tensor& x, GeluApprox approximate) {
  return approximate == GeluApprox::Tanh ? unary(x, fns::GeluTanh{}) : unary(x, fns::Gelu{});
}
Tensor silu(const Tensor& x) { return unary<fns::Silu>(x); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  ATTO_CHECK(beta != 0, "[softplus] beta must be nonzero (input shape {})", x.shape());
  return unary(x, fns::Softplus{beta, threshold});
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  ATTO_CHECK(min || max, "[clamp] at least one of min and max must be given (input shape {})", x.shape());
  return unary(x, fns::Clamp{min.value_or(0), max.value_or(0), min.has_value(), max.has_value()});
}
Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, std::nullopt, max); }

// ---- binary ----------------------------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Add{}); }
Tensor add(const Tensor& a, const Tensor& b, double alpha) { return binary(a, b, fns::Add{alpha}); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Sub{}); }
Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return binary(a, b, fns::Sub{alpha}); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Mul{}); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Div{}, /*floating_result=*/true); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Maximum{}); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Minimum{}); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(a, b, fns::Pow{}); }

// ---- with a scalar --------------------------------------------------------------------------------------------

// x - c is x + (-c): negation is exact, so the result is bitwise the same.
Tensor add(const Tensor& a, Scalar b) { return with_scalar(a, b, fns::AddScalar{b.value}); }
Tensor add(Scalar a, const Tensor& b) { return add(b, a); }
Tensor sub(const Tensor& a, Scalar b) { return with_scalar(a, b, fns::AddScalar{-b.value}); }
Tensor sub(Scalar a, const Tensor& b) { return with_scalar(b, a, fns::RSubScalar{a.value}); }
Tensor mul(const Tensor& a, Scalar b) { return with_scalar(a, b, fns::MulScalar{b.value}); }
Tensor mul(Scalar a, const Tensor& b) { return mul(b, a); }
Tensor div(const Tensor& a, Scalar b) { return with_scalar(a, b, fns::DivScalar{b.value}); }
Tensor div(Scalar a, const Tensor& b) { return with_scalar(b, a, fns::RDivScalar{a.value}); }
Tensor pow(const Tensor& a, Scalar exponent) {
  ATTO_CHECK(a.is_floating_point() || !exponent.integral || exponent.value >= 0,
             "[pow] integers to negative integer powers are not allowed ({} tensor of shape {}, exponent {})",
             a.dtype(), a.shape(), exponent.value);
  return with_scalar(a, exponent, fns::PowScalar{exponent.value});
}
Tensor pow(Scalar base, const Tensor& exponent) { return with_scalar(exponent, base, fns::RPowScalar{base.value}); }

// ---- comparisons and logic ------------------------------------------------------------------------------------

namespace {

template <class Fn> Tensor compare(const Tensor& a_in, const Tensor& b_in, Fn fn) {
  check_same_device(a_in, b_in, Fn::op);
  Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), Fn::op);
  DType dt = result_type(a_in, b_in);
  NoGradGuard no_grad;   // a dtype conversion of an input that requires grad need not be recorded
  Tensor a = cast(a_in, dt), b = cast(b_in, dt);
  Tensor out = empty(shape, {.dtype = kBool, .device = a.device()});
  visit_dtype(dt, Fn::op, [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(a.device(), compare<T>, fn, out.view(), detail::broadcast_strided(a, shape),
                   detail::broadcast_strided(b, shape));
  });
  return out;
}

template <class Fn> Tensor compare(const Tensor& x_in, Scalar s, Fn fn) {
  DType dt = result_type(x_in, s);
  NoGradGuard no_grad;
  Tensor x = cast(x_in, dt);
  Tensor out = empty(x.shape(), {.dtype = kBool, .device = x.device()});
  visit_dtype(dt, Fn::op, [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(x.device(), compare_scalar<T>, fn, out.view(), x.view(), T(s.value));
  });
  return out;
}

Tensor as_bool(const Tensor& t) { return t.dtype() == kBool ? t : ne(t, 0); }

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Eq{}); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Ne{}); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Lt{}); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Le{}); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Gt{}); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, fns::Ge{}); }
Tensor eq(const Tensor& a, Scalar b) { return compare(a, b, fns::Eq{}); }
Tensor ne(const Tensor& a, Scalar b) { return compare(a, b, fns::Ne{}); }
Tensor lt(const Tensor& a, Scalar b) { return compare(a, b, fns::Lt{}); }
Tensor le(const Tensor& a, Scalar b) { return compare(a, b, fns::Le{}); }
Tensor gt(const Tensor& a, Scalar b) { return compare(a, b, fns::Gt{}); }
Tensor ge(const Tensor& a, Scalar b) { return compare(a, b, fns::Ge{}); }

Tensor logical_not(const Tensor& x) {
  Tensor out = empty(x.shape(), {.dtype = kBool, .device = x.device()});
  visit_dtype(x.dtype(), "logical_not", [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(x.device(), logical_not<T>, out.view(), x.view());
  });
  return out;
}
Tensor logical_and(const Tensor& a, const Tensor& b) { return compare(as_bool(a), as_bool(b), fns::LogicalAnd{}); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return compare(as_bool(a), as_bool(b), fns::LogicalOr{}); }

// ---- where / masked_fill ------------------------------------------------------------------------------------------

namespace {

void check_mask(const Tensor& mask, const char* op, const char* what) {
  ATTO_CHECK(mask.dtype() == kBool, "[{}] {} must be a bool tensor, got {} of shape {}", op, what, mask.dtype(),
             mask.shape());
}

// The gradient of a selection: dy where cond == when, else 0, summed back to `in_shape`.
Tensor select_grad(const Tensor& cond, const Tensor& dy, const Shape& shape, const Shape& in_shape, bool when) {
  Tensor d = empty(shape, {.dtype = dy.dtype(), .device = dy.device()});
  visit_floating(dy.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(dy.device(), select_grad<T>, d.view(), detail::broadcast_strided(cond, shape), dy.view(), when);
  });
  return sum_to(d, in_shape);
}

struct Where {
  static constexpr const char* name = "WhereBackward";
  struct Saved : SavedBase { Tensor cond; Shape a_shape, b_shape, shape; DType dtype; };
  static Tensor forward(Saved& s, const Tensor& cond, const Tensor& a, const Tensor& b) {
    check_mask(cond, "where", "condition");
    check_same_device(cond, a, "where");
    check_same_device(a, b, "where");
    Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
    Tensor y = empty(shape, {.dtype = a.dtype(), .device = a.device()});
    visit_dtype(a.dtype(), "where", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(a.device(), where<T>, y.view(), detail::broadcast_strided(cond, shape),
                     detail::broadcast_strided(a, shape), detail::broadcast_strided(b, shape));
    });
    s.cond = cond;
    s.a_shape = a.shape();
    s.b_shape = b.shape();
    s.shape = shape;
    s.dtype = a.dtype();
    return y;
  }
  // y = cond ? a : b   =>   da = cond ? dy : 0,  db = cond ? 0 : dy
  static std::array<Tensor, 3> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = detail::grad_as(dy_in, s.dtype);
    std::array<Tensor, 3> g;
    if (s.needs_input_grad(1)) g[1] = select_grad(s.cond, dy, s.shape, s.a_shape, true);
    if (s.needs_input_grad(2)) g[2] = select_grad(s.cond, dy, s.shape, s.b_shape, false);
    return g;
  }
};

struct MaskedFill {
  static constexpr const char* name = "MaskedFillBackward";
  struct Saved { Tensor mask; Shape x_shape, shape; DType dtype; };
  static Tensor forward(Saved& s, const Tensor& x, const Tensor& mask, double value) {
    check_mask(mask, "masked_fill", "mask");
    check_same_device(x, mask, "masked_fill");
    Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
    Tensor y = empty(shape, {.dtype = x.dtype(), .device = x.device()});
    visit_dtype(x.dtype(), "masked_fill", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), masked_fill<T>, y.view(), detail::broadcast_strided(mask, shape),
                     detail::broadcast_strided(x, shape), T(value));
    });
    s = {mask, x.shape(), shape, x.dtype()};
    return y;
  }
  // y = mask ? value : x   =>   dx = mask ? 0 : dy
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    return {select_grad(s.mask, detail::grad_as(dy, s.dtype), s.shape, s.x_shape, false), Tensor()};
  }
};

// A 0-d tensor for a scalar operand of where (PyTorch does the same).
Tensor scalar_like(Scalar v, const Tensor& other) {
  return scalar_tensor(v.value, {.dtype = result_type(other, v), .device = other.device()});
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DType dt = result_type(a, b);
  return apply<Where>(cond, cast(a, dt), cast(b, dt));
}
Tensor where(const Tensor& cond, const Tensor& a, Scalar b) { return where(cond, a, scalar_like(b, a)); }
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) { return where(cond, scalar_like(a, b), b); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) { return apply<MaskedFill>(x, mask, value); }

// ---- in-place ops of the Tensor handle ------------------------------------------------------------------------------
// No autograd (check_inplace rejects a recorded write), no allocation: other is seen through a
// broadcast StridedView, and mixed dtypes are converted element by element inside the kernel.

namespace {

void check_writable(const Tensor& self, const char* op) {
  check_inplace(self, op);
  for (int d = 0; d < self.ndim(); ++d)
    ATTO_CHECK(self.strides()[d] != 0 || self.shape()[d] <= 1,
               "[{}] unsupported: several elements of the written-to tensor (shape {}, strides {}) share one memory "
               "location; clone() it first",
               op, self.shape(), self.strides());
}

// An integer tensor only takes integral scalars in place (an int tensor cannot hold x + 0.5).
void check_scalar_fits(const Tensor& self, double v, const char* op) {
  ATTO_CHECK(self.is_floating_point() || v == std::trunc(v),
             "[{}] the result of a {} tensor (shape {}) with the non-integral scalar {} would be float32; an in-place "
             "op cannot change the dtype",
             op, self.dtype(), self.shape(), v);
}

template <class Fn> void inplace_binary(Tensor& self, const Tensor& other, Fn fn, const char* op, bool true_div) {
  check_writable(self, op);
  check_same_device(self, other, op);
  ATTO_CHECK(broadcast_shapes(self.shape(), other.shape(), op) == self.shape(),
             "[{}] other of shape {} does not broadcast to self's shape {}", op, other.shape(), self.shape());
  DType rt = result_type(self, other);
  if (true_div && !is_floating(rt)) rt = kFloat32;
  ATTO_CHECK(kind(rt) <= kind(self.dtype()), "[{}] result type {} can't be cast to the desired output type {}", op,
             rt, self.dtype());
  visit_numeric(self.dtype(), op, [&](auto ttag) {
    using T = decltype(ttag);
    visit_dtype(other.dtype(), op, [&](auto utag) {
      using U = decltype(utag);
      ATTO_ON_DEVICE(self.device(), inplace_binary<T>, fn, self.view(),
                     detail::broadcast_strided(other, self.shape()), U{});
    });
  });
}

template <class Fn> void inplace_unary(Tensor& self, Fn fn, const char* op) {
  check_writable(self, op);
  visit_numeric(self.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(self.device(), unary_forward<T>, fn, self.view(), self.view());
  });
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_scalar_fits(*this, alpha, "add_");
  inplace_binary(*this, other, fns::Add{alpha}, "add_", false);
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  inplace_binary(*this, other, fns::Mul{}, "mul_", false);
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  inplace_binary(*this, other, fns::Div{}, "div_", true);
  return *this;
}
Tensor& Tensor::add_(double value) {
  check_scalar_fits(*this, value, "add_");
  inplace_unary(*this, fns::AddScalar{value}, "add_");
  return *this;
}
Tensor& Tensor::mul_(double value) {
  check_scalar_fits(*this, value, "mul_");
  inplace_unary(*this, fns::MulScalar{value}, "mul_");
  return *this;
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  ATTO_CHECK(min || max, "[clamp_] at least one of min and max must be given (shape {})", shape());
  check_scalar_fits(*this, min.value_or(0), "clamp_");
  check_scalar_fits(*this, max.value_or(0), "clamp_");
  inplace_unary(*this, fns::Clamp{min.value_or(0), max.value_or(0), min.has_value(), max.has_value()}, "clamp_");
  return *this;
}
Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  check_writable(*this, "masked_fill_");
  check_mask(mask, "masked_fill_", "mask");
  check_same_device(*this, mask, "masked_fill_");
  ATTO_CHECK(broadcast_shapes(shape(), mask.shape(), "masked_fill_") == shape(),
             "[masked_fill_] mask of shape {} does not broadcast to self's shape {}", mask.shape(), shape());
  visit_dtype(dtype(), "masked_fill_", [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(device(), masked_fill<T>, view(), detail::broadcast_strided(mask, shape()), view(), T(value));
  });
  return *this;
}

// ---- Tensor methods -----------------------------------------------------------------------------------------------

Tensor Tensor::exp() const { return atto::exp(*this); }
Tensor Tensor::log() const { return atto::log(*this); }
Tensor Tensor::tanh() const { return atto::tanh(*this); }
Tensor Tensor::sigmoid() const { return atto::sigmoid(*this); }
Tensor Tensor::relu() const { return atto::relu(*this); }
Tensor Tensor::sqrt() const { return atto::sqrt(*this); }
Tensor Tensor::abs() const { return atto::abs(*this); }
Tensor Tensor::pow(double exponent) const { return atto::pow(*this, exponent); }

}  // namespace atto
