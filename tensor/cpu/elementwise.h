// tensor/cpu/elementwise.h -- CPU kernels instantiated from the functors of tensor/elementwise_fns.h
// (internal). Views arrive with equal shapes: broadcast inputs are expanded with stride 0 by the
// caller. Twin: cuda/elementwise.cu.
#pragma once
#include "tensor/cpu/loops.h"

namespace atto::cpu {

template <class T, class Fn> void unary_forward(Fn fn, StridedView y, StridedView x) {
  map_strided<T, T>([fn](T x) { return fn.template fwd<T>(x); }, y, x);
}

template <class T, class Fn> void unary_backward(Fn fn, StridedView dx, StridedView x, StridedView y, StridedView dy) {
  map_strided<T, T, T, T>([fn](T x, T y, T dy) { return fn.template bwd<T>(x, y, dy); }, dx, x, y, dy);
}

template <class T, class Fn> void binary_forward(Fn fn, StridedView y, StridedView a, StridedView b) {
  map_strided<T, T, T>([fn](T a, T b) { return fn.template fwd<T>(a, b); }, y, a, b);
}

// Gradient for input a (Side::A) or b (Side::B), over the broadcast shape.
enum class Side { A, B };
template <class T, class Fn>
void binary_backward(Fn fn, Side side, StridedView d, StridedView a, StridedView b, StridedView y, StridedView dy) {
  if (side == Side::A)
    map_strided<T, T, T, T, T>([fn](T a, T b, T y, T dy) { return fn.template bwd_a<T>(a, b, y, dy); }, d, a, b, y, dy);
  else
    map_strided<T, T, T, T, T>([fn](T a, T b, T y, T dy) { return fn.template bwd_b<T>(a, b, y, dy); }, d, a, b, y, dy);
}

}  // namespace atto::cpu
