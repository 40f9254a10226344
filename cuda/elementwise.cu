// cuda/elementwise.cu -- the elementwise kernels of cuda/elementwise.h. Twin: tensor/cpu/elementwise.h.
// Each is one map_strided (cuda/loops.cuh) with a small functor around a formula of
// tensor/elementwise_fns.h, the same formulas the CPU evaluates. On the device erf, exp and tanh are
// CUDA's own (elementwise_fns.h's vec_erf/vec_exp/vec_tanh), so float results agree with the CPU within
// a few ulp, not bitwise.
//
// At the end: the explicit instantiations, one per (T, Fn) the tensor layer calls
// (autograd/functions/elementwise_op.h and elementwise.cpp), kept short by X-macro lists.
#include <type_traits>

#include "cuda/elementwise.h"
#include "cuda/loops.cuh"
#include "tensor/elementwise_fns.h"

namespace atto::cuda {

namespace {

template <class T, class Fn> struct UnaryFwd {
  Fn fn;
  __device__ T operator()(T x) const { return fn.template fwd<T>(x); }
};
template <class T, class Fn> struct UnaryBwd {
  Fn fn;
  __device__ T operator()(T x, T y, T dy) const { return fn.template bwd<T>(x, y, dy); }
};
template <class T, class Fn> struct BinaryFwd {
  Fn fn;
  __device__ T operator()(T a, T b) const { return fn.template fwd<T>(a, b); }
};
template <class T, class Fn> struct BinaryBwdA {
  Fn fn;
  __device__ T operator()(T a, T b, T y, T dy) const { return fn.template bwd_a<T>(a, b, y, dy); }
};
template <class T, class Fn> struct BinaryBwdB {
  Fn fn;
  __device__ T operator()(T a, T b, T y, T dy) const { return fn.template bwd_b<T>(a, b, y, dy); }
};
// Computed in C, the wider of T and U, rounded once to T.
template <class T, class U, class C, class Fn> struct InplaceBinary {
  Fn fn;
  __device__ T operator()(T a, U b) const { return T(fn.template fwd<C>(C(a), C(b))); }
};
template <class T, class Fn> struct Compare {
  Fn fn;
  __device__ bool operator()(T a, T b) const { return fn.template fwd<T>(a, b); }
};
template <class T, class Fn> struct CompareScalar {
  Fn fn;
  T c;
  __device__ bool operator()(T a) const { return fn.template fwd<T>(a, c); }
};
template <class T> struct LogicalNot {
  __device__ bool operator()(T x) const { return !x; }
};
template <class T> struct Where {
  __device__ T operator()(bool c, T a, T b) const { return c ? a : b; }
};
template <class T> struct MaskedFill {
  T value;
  __device__ T operator()(bool m, T x) const { return m ? value : x; }
};
template <class T> struct SelectGrad {
  bool when;
  __device__ T operator()(bool c, T g) const { return c == when ? g : T(0); }
};

}  // namespace

template <class T, class Fn> void unary_forward(Fn fn, StridedView y, StridedView x) {
  map_strided<T, T>(UnaryFwd<T, Fn>{fn}, y, x);
}

template <class T, class Fn> void unary_backward(Fn fn, StridedView dx, StridedView x, StridedView y, StridedView dy) {
  map_strided<T, T, T, T>(UnaryBwd<T, Fn>{fn}, dx, x, y, dy);
}

template <class T, class Fn> void binary_forward(Fn fn, StridedView y, StridedView a, StridedView b) {
  map_strided<T, T, T>(BinaryFwd<T, Fn>{fn}, y, a, b);
}

template <class T, class Fn>
void binary_backward(Fn fn, Side side, StridedView d, StridedView a, StridedView b, StridedView y, StridedView dy) {
  if (side == Side::A) map_strided<T, T, T, T, T>(BinaryBwdA<T, Fn>{fn}, d, a, b, y, dy);
  else map_strided<T, T, T, T, T>(BinaryBwdB<T, Fn>{fn}, d, a, b, y, dy);
}

template <class T, class Fn, class U> void inplace_binary(Fn fn, StridedView self, StridedView other, U) {
  using C = std::conditional_t<std::is_same_v<T, double> || std::is_same_v<U, double>, double, T>;
  map_strided<T, T, U>(InplaceBinary<T, U, C, Fn>{fn}, self, self, other);
}

template <class T, class Fn> void compare(Fn fn, StridedView out, StridedView a, StridedView b) {
  map_strided<bool, T, T>(Compare<T, Fn>{fn}, out, a, b);
}

template <class T, class Fn> void compare_scalar(Fn fn, StridedView out, StridedView a, T c) {
  map_strided<bool, T>(CompareScalar<T, Fn>{fn, c}, out, a);
}

template <class T> void logical_not(StridedView out, StridedView x) { map_strided<bool, T>(LogicalNot<T>{}, out, x); }

template <class T> void where(StridedView out, StridedView cond, StridedView a, StridedView b) {
  map_strided<T, bool, T, T>(Where<T>{}, out, cond, a, b);
}

template <class T> void masked_fill(StridedView out, StridedView mask, StridedView x, T value) {
  map_strided<T, bool, T>(MaskedFill<T>{value}, out, mask, x);
}

template <class T> void select_grad(StridedView d, StridedView cond, StridedView dy, bool when) {
  map_strided<T, bool, T>(SelectGrad<T>{when}, d, cond, dy);
}

// ---- explicit instantiations ------------------------------------------------------------------------------
// UnaryOp instantiates forward over visit_numeric for Ints::Keep functors and over visit_floating
// otherwise, backward over visit_floating; the in-place unary ops (add_, mul_, clamp_) run on int64
// too. BinaryOp instantiates forward over visit_numeric, backward over visit_floating for the
// non-linear functors only. inplace_binary: self numeric, other any dtype.

#define ATTO_UNARY_FNS(X)                                                                                     \
  X(Neg) X(Abs) X(Exp) X(Log) X(Log1p) X(Sqrt) X(Rsqrt) X(Sin) X(Cos) X(Tanh) X(Sigmoid) X(Relu) X(LeakyRelu) \
  X(Gelu) X(GeluTanh) X(Silu) X(Softplus) X(Clamp) X(AddScalar) X(MulScalar) X(RSubScalar) X(DivScalar)     \
  X(RDivScalar) X(PowScalar) X(RPowScalar)
// Forward on int64: the Ints::Keep functors, and Clamp for clamp_.
#define ATTO_UNARY_INT_FNS(X) \
  X(Neg) X(Abs) X(Relu) X(Clamp) X(AddScalar) X(MulScalar) X(RSubScalar) X(PowScalar) X(RPowScalar)
#define ATTO_BINARY_FNS(X) X(Add) X(Sub) X(Mul) X(Div) X(Maximum) X(Minimum) X(Pow)
#define ATTO_BINARY_GRAD_FNS(X) X(Mul) X(Div) X(Maximum) X(Minimum) X(Pow)   // Add, Sub: linear
#define ATTO_INPLACE_FNS(X) X(Add) X(Mul) X(Div)
#define ATTO_COMPARE_FNS(X) X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge)
#define ATTO_LOGIC_FNS(X) X(LogicalAnd) X(LogicalOr)

#define ATTO_UNARY_FWD(T, Fn) template void unary_forward<T, fns::Fn>(fns::Fn, StridedView, StridedView);
#define ATTO_UNARY_BWD(T, Fn) \
  template void unary_backward<T, fns::Fn>(fns::Fn, StridedView, StridedView, StridedView, StridedView);
#define ATTO_BINARY_FWD(T, Fn) \
  template void binary_forward<T, fns::Fn>(fns::Fn, StridedView, StridedView, StridedView);
#define ATTO_BINARY_BWD(T, Fn)                                                                          \
  template void binary_backward<T, fns::Fn>(fns::Fn, Side, StridedView, StridedView, StridedView, StridedView, \
                                            StridedView);
#define ATTO_INPLACE(T, Fn, U) \
  template void inplace_binary<T, fns::Fn, U>(fns::Fn, StridedView, StridedView, U);
#define ATTO_COMPARE(T, Fn) template void compare<T, fns::Fn>(fns::Fn, StridedView, StridedView, StridedView);
#define ATTO_COMPARE_SCALAR(T, Fn) template void compare_scalar<T, fns::Fn>(fns::Fn, StridedView, StridedView, T);

#define ATTO_FLOATING_UNARY(Fn) \
  ATTO_UNARY_FWD(float, Fn) ATTO_UNARY_FWD(double, Fn) ATTO_UNARY_BWD(float, Fn) ATTO_UNARY_BWD(double, Fn)
#define ATTO_INT_UNARY(Fn) ATTO_UNARY_FWD(int64_t, Fn)
#define ATTO_NUMERIC_BINARY(Fn) ATTO_BINARY_FWD(float, Fn) ATTO_BINARY_FWD(double, Fn) ATTO_BINARY_FWD(int64_t, Fn)
#define ATTO_FLOATING_BINARY_GRAD(Fn) ATTO_BINARY_BWD(float, Fn) ATTO_BINARY_BWD(double, Fn)
#define ATTO_INPLACE_OTHER(T, Fn) \
  ATTO_INPLACE(T, Fn, float) ATTO_INPLACE(T, Fn, double) ATTO_INPLACE(T, Fn, int64_t) ATTO_INPLACE(T, Fn, bool)
#define ATTO_INPLACE_ALL(Fn) \
  ATTO_INPLACE_OTHER(float, Fn) ATTO_INPLACE_OTHER(double, Fn) ATTO_INPLACE_OTHER(int64_t, Fn)
#define ATTO_COMPARE_ALL(Fn) \
  ATTO_COMPARE(float, Fn) ATTO_COMPARE(double, Fn) ATTO_COMPARE(int64_t, Fn) ATTO_COMPARE(bool, Fn)
#define ATTO_COMPARE_SCALAR_ALL(Fn)                                                                   \
  ATTO_COMPARE_SCALAR(float, Fn) ATTO_COMPARE_SCALAR(double, Fn) ATTO_COMPARE_SCALAR(int64_t, Fn) \
  ATTO_COMPARE_SCALAR(bool, Fn)
#define ATTO_SELECT_ALL(T)                                                                 \
  template void logical_not<T>(StridedView, StridedView);                                  \
  template void where<T>(StridedView, StridedView, StridedView, StridedView);              \
  template void masked_fill<T>(StridedView, StridedView, StridedView, T);

ATTO_UNARY_FNS(ATTO_FLOATING_UNARY)
ATTO_UNARY_INT_FNS(ATTO_INT_UNARY)
ATTO_BINARY_FNS(ATTO_NUMERIC_BINARY)
ATTO_BINARY_GRAD_FNS(ATTO_FLOATING_BINARY_GRAD)
ATTO_INPLACE_FNS(ATTO_INPLACE_ALL)
ATTO_COMPARE_FNS(ATTO_COMPARE_ALL)
ATTO_COMPARE_FNS(ATTO_COMPARE_SCALAR_ALL)
ATTO_LOGIC_FNS(ATTO_COMPARE_ALL)
ATTO_SELECT_ALL(float)
ATTO_SELECT_ALL(double)
ATTO_SELECT_ALL(int64_t)
ATTO_SELECT_ALL(bool)
template void select_grad<float>(StridedView, StridedView, StridedView, bool);
template void select_grad<double>(StridedView, StridedView, StridedView, bool);

}  // namespace atto::cuda
