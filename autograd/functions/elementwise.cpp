// autograd/functions/elementwise.cpp -- the elementwise ops: one line each, from the functors in
// tensor/elementwise_fns.h plugged into UnaryOp / BinaryOp (elementwise_op.h).
#include "autograd/functions/elementwise.h"

#include "autograd/functions/elementwise_op.h"
#include "tensor/elementwise_fns.h"

namespace atto {

Tensor exp(const Tensor& x) { return apply<UnaryOp<fns::Exp>>(x, fns::Exp{}); }

Tensor add(const Tensor& a, const Tensor& b) { return apply<BinaryOp<fns::Add>>(a, b, fns::Add{}); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply<BinaryOp<fns::Mul>>(a, b, fns::Mul{}); }
Tensor sub(const Tensor& a, const Tensor& b) { return add(a, mul(b, -1.0)); }
Tensor add(const Tensor& a, double b) { return add(a, scalar_tensor(b, {.dtype = a.dtype(), .device = a.device()})); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_tensor(b, {.dtype = a.dtype(), .device = a.device()})); }

Tensor Tensor::exp() const { return atto::exp(*this); }

}  // namespace atto
