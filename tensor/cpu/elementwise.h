// tensor/cpu/elementwise.h -- CPU kernels instantiated from the functors of tensor/elementwise_fns.h
// (internal). Views arrive with equal shapes: broadcast inputs are expanded with stride 0 by the
// caller. In-place kernels pass the destination as both output and input: each element is read and
// then written at the same index, so that is safe. Twin: cuda/elementwise.cu.
#pragma once
#include <type_traits>

#include "tensor/cpu/loops.h"
#include "tensor/elementwise_fns.h"

namespace atto::cpu {

// The lambdas are always inlined into map_strided's loop: a big formula (GELU's erf) would otherwise
// stay out of line, one call per element, and the loop would not vectorise; and only inlined code
// is compiled for the wider instructions (NOTE [ CPU vector width ]).
template <class T, class Fn> void unary_forward(Fn fn, StridedView y, StridedView x) {
  map_strided<T, T>([fn](T x) ATTO_INLINE_LOOP { return fn.template fwd<T>(x); }, y, x);
}

template <class T, class Fn> void unary_backward(Fn fn, StridedView dx, StridedView x, StridedView y, StridedView dy) {
  map_strided<T, T, T, T>([fn](T x, T y, T dy) ATTO_INLINE_LOOP { return fn.template bwd<T>(x, y, dy); }, dx,
                          x, y, dy);
}

template <class T, class Fn> void binary_forward(Fn fn, StridedView y, StridedView a, StridedView b) {
  map_strided<T, T, T>([fn](T a, T b) ATTO_INLINE_LOOP { return fn.template fwd<T>(a, b); }, y, a, b);
}

// Gradient for input a (Side::A) or b (Side::B), over the broadcast shape.
using fns::Side;
template <class T, class Fn>
void binary_backward(Fn fn, Side side, StridedView d, StridedView a, StridedView b, StridedView y, StridedView dy) {
  if (side == Side::A)
    map_strided<T, T, T, T, T>(
        [fn](T a, T b, T y, T dy) ATTO_INLINE_LOOP { return fn.template bwd_a<T>(a, b, y, dy); }, d, a, b, y, dy);
  else
    map_strided<T, T, T, T, T>(
        [fn](T a, T b, T y, T dy) ATTO_INLINE_LOOP { return fn.template bwd_b<T>(a, b, y, dy); }, d, a, b, y, dy);
}

// self = fn(self, other) with self of type T and other of type U, computed in the wider of the two
// (float32 self += float64 other adds in double, then rounds once, as PyTorch). The last argument
// only carries U.
template <class T, class Fn, class U> void inplace_binary(Fn fn, StridedView self, StridedView other, U) {
  using C = std::conditional_t<std::is_same_v<T, double> || std::is_same_v<U, double>, double, T>;
  map_strided<T, T, U>([fn](T a, U b) ATTO_INLINE_LOOP { return T(fn.template fwd<C>(C(a), C(b))); }, self, self,
                       other);
}

// out = fn(a, b) as bool (comparisons, logical and/or).
template <class T, class Fn> void compare(Fn fn, StridedView out, StridedView a, StridedView b) {
  map_strided<bool, T, T>([fn](T a, T b) ATTO_INLINE_LOOP { return fn.template fwd<T>(a, b); }, out, a, b);
}
template <class T, class Fn> void compare_scalar(Fn fn, StridedView out, StridedView a, T c) {
  map_strided<bool, T>([fn, c](T a) ATTO_INLINE_LOOP { return fn.template fwd<T>(a, c); }, out, a);
}

template <class T> void logical_not(StridedView out, StridedView x) {
  map_strided<bool, T>([](T x) ATTO_INLINE_LOOP { return !x; }, out, x);
}

// out = cond ? a : b
template <class T> void where(StridedView out, StridedView cond, StridedView a, StridedView b) {
  map_strided<T, bool, T, T>([](bool c, T a, T b) ATTO_INLINE_LOOP { return c ? a : b; }, out, cond, a, b);
}

// out = mask ? value : x  (out may be x itself: masked_fill_)
template <class T> void masked_fill(StridedView out, StridedView mask, StridedView x, T value) {
  map_strided<T, bool, T>([value](bool m, T x) ATTO_INLINE_LOOP { return m ? value : x; }, out, mask, x);
}

// d = (cond == when) ? dy : 0 -- the gradient of where / masked_fill.
template <class T> void select_grad(StridedView d, StridedView cond, StridedView dy, bool when) {
  map_strided<T, bool, T>([when](bool c, T g) ATTO_INLINE_LOOP { return c == when ? g : T(0); }, d, cond, dy);
}

}  // namespace atto::cpu
