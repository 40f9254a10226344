// cuda/elementwise.h -- CUDA kernels instantiated from the functors of tensor/elementwise_fns.h
// (internal). The twin of tensor/cpu/elementwise.h: same names, same parameters, same contract
// (views of equal shapes, broadcast inputs expanded with stride 0 by the caller; in-place kernels
// pass the destination as both output and input). Plain C++ declarations; the definitions and the
// explicit instantiations for every (T, Fn) the tensor layer calls are in cuda/elementwise.cu.
#pragma once
#include "tensor/elementwise_fns.h"   // fns::Side
#include "tensor/strided.h"

namespace atto::cuda {

using fns::Side;

template <class T, class Fn> void unary_forward(Fn fn, StridedView y, StridedView x);
template <class T, class Fn> void unary_backward(Fn fn, StridedView dx, StridedView x, StridedView y, StridedView dy);
template <class T, class Fn> void binary_forward(Fn fn, StridedView y, StridedView a, StridedView b);
// Gradient for input a (Side::A) or b (Side::B), over the broadcast shape.
template <class T, class Fn>
void binary_backward(Fn fn, Side side, StridedView d, StridedView a, StridedView b, StridedView y, StridedView dy);
// self = fn(self, other), self of type T, other of type U, computed in the wider of the two; the
// last argument only carries U.
template <class T, class Fn, class U> void inplace_binary(Fn fn, StridedView self, StridedView other, U);
// out = fn(a, b) as bool (comparisons, logical and/or).
template <class T, class Fn> void compare(Fn fn, StridedView out, StridedView a, StridedView b);
template <class T, class Fn> void compare_scalar(Fn fn, StridedView out, StridedView a, T c);
template <class T> void logical_not(StridedView out, StridedView x);
// out = cond ? a : b
template <class T> void where(StridedView out, StridedView cond, StridedView a, StridedView b);
// out = mask ? value : x  (out may be x itself: masked_fill_)
template <class T> void masked_fill(StridedView out, StridedView mask, StridedView x, T value);
// d = (cond == when) ? dy : 0 -- the gradient of where / masked_fill.
template <class T> void select_grad(StridedView d, StridedView cond, StridedView dy, bool when);

}  // namespace atto::cuda
