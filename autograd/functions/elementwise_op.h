// autograd/functions/elementwise_op.h -- UnaryOp<Fn> and BinaryOp<Fn>: the two differentiable
// functions every elementwise functor of tensor/elementwise_fns.h is plugged into (internal).
#pragma once
#include <array>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "tensor/cpu/elementwise.h"
#include "tensor/dispatch.h"

namespace atto {

// y = Fn(x), elementwise. Saves x and y; each functor's bwd uses what it needs.
template <class Fn> struct UnaryOp {
  static constexpr const char* name = Fn::name;
  struct Saved { Fn fn; Tensor x, y; };
  static Tensor forward(Saved& s, const Tensor& x, Fn fn) {
    Tensor y = empty_like(x);
    visit_floating(x.dtype(), Fn::name, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), unary_forward<T>, fn, y.view(), x.view());
    });
    s = {fn, x, y};
    return y;
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) {
    Tensor dx = empty_like(s.x);
    visit_floating(s.x.dtype(), Fn::name, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(s.x.device(), unary_backward<T>, s.fn, dx.view(), s.x.view(), s.y.view(), dy.view());
    });
    return {dx};
  }
};

// y = Fn(a, b) with broadcasting. Both inputs are promoted to a common dtype, then viewed with
// the output's shape (stride 0 on broadcast dims); each gradient is computed on the broadcast
// shape and summed back to its input's shape by sum_to.
template <class Fn> struct BinaryOp {
  static constexpr const char* name = Fn::name;
  struct Saved : SavedBase { Fn fn; Tensor a, b, y; };
  static Tensor forward(Saved& s, const Tensor& a_in, const Tensor& b_in, Fn fn) {
    check_same_device(a_in, b_in, Fn::name);
    Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), Fn::name);
    DType dt = promote_types(a_in.dtype(), b_in.dtype());
    Tensor a = a_in.dtype() == dt ? a_in : a_in.to(dt);
    Tensor b = b_in.dtype() == dt ? b_in : b_in.to(dt);
    Tensor y = empty(shape, {.dtype = dt, .device = a.device()});
    visit_numeric(dt, Fn::name, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(a.device(), binary_forward<T>, fn, y.view(), broadcast_view(a, shape).view(),
                     broadcast_view(b, shape).view());
    });
    s.fn = fn;
    s.a = a;
    s.b = b;
    s.y = y;
    return y;
  }
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    std::array<Tensor, 2> grads;
    const Shape& shape = s.y.shape();
    for (int i = 0; i < 2; ++i) {
      if (!s.needs_input_grad(i)) continue;
      Tensor d = empty(shape, {.dtype = s.y.dtype(), .device = s.y.device()});
      visit_floating(s.y.dtype(), Fn::name, [&](auto tag) {
        using T = decltype(tag);
        ATTO_ON_DEVICE(s.y.device(), binary_backward<T>, s.fn, i == 0 ? cpu::Side::A : cpu::Side::B, d.view(),
                       broadcast_view(s.a, shape).view(), broadcast_view(s.b, shape).view(), s.y.view(), dy.view());
      });
      grads[i] = sum_to(d, (i == 0 ? s.a : s.b).shape());
    }
    return grads;
  }
};

}  // namespace atto
