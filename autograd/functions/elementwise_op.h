// autograd/functions/elementwise_op.h -- UnaryOp<Fn> and BinaryOp<Fn>: the two differentiable
// functions every elementwise functor of tensor/elementwise_fns.h is plugged into (internal).
//
// NOTE [ Saving the output ]
// A node that kept its own output as a Tensor would form a cycle (output -> grad_fn -> saved output)
// that leaks the graph whenever backward never runs. The ops here keep only the output's Storage
// (a shared_ptr copy, no allocation) and rebuild a contiguous view of it in backward.
#pragma once
#include <array>
#include <memory>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "autograd/functions/elementwise.h"
#include "tensor/cpu/elementwise.h"
#include "tensor/dispatch.h"
#include "tensor/elementwise_fns.h"

namespace atto {

namespace detail {
// A contiguous view of `shape` over the start of `storage` (a saved output, NOTE [ Saving the output ]).
inline StridedView contiguous_view(const std::shared_ptr<Storage>& storage, const Shape& shape) {
  StridedView v;
  v.data = storage->data();
  v.ndim = shape.size();
  int64_t st = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    v.shape[d] = shape[d];
    v.strides[d] = st;
    st *= shape[d];
  }
  return v;
}
// A view of t with `shape` (stride 0 along broadcast dims), without making a Tensor.
inline StridedView broadcast_strided(const Tensor& t, const Shape& shape) {
  StridedView v;
  v.data = t.raw_data();
  v.ndim = shape.size();
  int lead = shape.size() - t.ndim();
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[d];
    v.strides[d] = d < lead || t.shape()[d - lead] == 1 ? 0 : t.strides()[d - lead];
  }
  return v;
}
inline Tensor grad_as(const Tensor& dy, DType dtype) { return dy.dtype() == dtype ? dy : dy.to(dtype); }
}  // namespace detail

// y = Fn(x), elementwise, in x's dtype (the caller converts an int input if Fn::ints says so).
template <class Fn> struct UnaryOp {
  static constexpr const char* name = Fn::name;
  struct Saved {
    Fn fn;
    DType dtype = kFloat32;
    Tensor x;                         // when Fn::saves & kSavesX
    std::shared_ptr<Storage> y;       // when Fn::saves & kSavesY (NOTE [ Saving the output ])
  };
  static Tensor forward(Saved& s, const Tensor& x, Fn fn) {
    Tensor y = empty_like(x);
    auto run = [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), unary_forward<T>, fn, y.view(), x.view());
    };
    if constexpr (Fn::ints == fns::Ints::Keep) visit_numeric(x.dtype(), Fn::op, run);
    else visit_floating(x.dtype(), Fn::op, run);
    s.fn = fn;
    s.dtype = x.dtype();
    if constexpr ((Fn::saves & fns::kSavesX) != 0) s.x = x;
    if constexpr ((Fn::saves & fns::kSavesY) != 0) s.y = y.storage();
    return y;
  }
  // dx = Fn::bwd(x, y, dy): the derivative of Fn::fwd, evaluated elementwise.
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    if constexpr (requires { Fn::grad_is_dy; }) return {dy_in};
    else {
      const DType dt = s.dtype;
      Tensor dy = detail::grad_as(dy_in, dt);
      Tensor dx = empty(dy.shape(), {.dtype = dt, .device = dy.device()});
      StridedView xv = s.x.defined() ? s.x.view() : dy.view();   // a stand-in when bwd does not read x
      StridedView yv = s.y ? detail::contiguous_view(s.y, dy.shape()) : dy.view();
      visit_floating(dt, Fn::op, [&](auto tag) {
        using T = decltype(tag);
        ATTO_ON_DEVICE(dy.device(), unary_backward<T>, s.fn, dx.view(), xv, yv, dy.view());
      });
      return {dx};
    }
  }
};

// y = Fn(a, b) with broadcasting, a and b already of one dtype (the caller promotes them). Each
// gradient is computed on the broadcast shape and summed back to its input's shape by sum_to.
template <class Fn> struct BinaryOp {
  static constexpr const char* name = Fn::name;
  static constexpr bool kLinear = requires { Fn::linear; };
  struct Saved : SavedBase {
    Fn fn;
    Tensor a, b;                      // not kept by linear ops
    Shape a_shape, b_shape, shape;
    DType dtype = kFloat32;
    std::shared_ptr<Storage> y;       // when Fn::saves & kSavesY (NOTE [ Saving the output ])
  };
  static Tensor forward(Saved& s, const Tensor& a, const Tensor& b, Fn fn) {
    check_same_device(a, b, Fn::op);
    Shape shape = broadcast_shapes(a.shape(), b.shape(), Fn::op);
    ATTO_ASSERT(a.dtype() == b.dtype(), "[{}] operands of {} and {} reached the kernel", Fn::op, a.dtype(), b.dtype());
    Tensor y = empty(shape, {.dtype = a.dtype(), .device = a.device()});
    visit_numeric(a.dtype(), Fn::op, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(a.device(), binary_forward<T>, fn, y.view(), detail::broadcast_strided(a, shape),
                     detail::broadcast_strided(b, shape));
    });
    s.fn = fn;
    s.a_shape = a.shape();
    s.b_shape = b.shape();
    s.shape = shape;
    s.dtype = a.dtype();
    if constexpr (!kLinear) {
      s.a = a;
      s.b = b;
    }
    if constexpr ((Fn::saves & fns::kSavesY) != 0) s.y = y.storage();
    return y;
  }
  // da = Fn::bwd_a(a, b, y, dy), db = Fn::bwd_b(a, b, y, dy) on the broadcast shape, then sum_to.
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = detail::grad_as(dy_in, s.dtype);
    std::array<Tensor, 2> grads;
    for (int i = 0; i < 2; ++i) {
      if (!s.needs_input_grad(i)) continue;
      const Shape& in_shape = i == 0 ? s.a_shape : s.b_shape;
      Tensor d;
      if constexpr (kLinear) {
        double scale = i == 0 ? s.fn.scale_a() : s.fn.scale_b();
        d = scale == 1 ? dy : mul(dy, scale);
      } else {
        d = empty(s.shape, {.dtype = s.dtype, .device = dy.device()});
        StridedView yv = s.y ? detail::contiguous_view(s.y, s.shape) : dy.view();
        visit_floating(s.dtype, Fn::op, [&](auto tag) {
          using T = decltype(tag);
          ATTO_ON_DEVICE(dy.device(), binary_backward<T>, s.fn, i == 0 ? cpu::Side::A : cpu::Side::B, d.view(),
                         detail::broadcast_strided(s.a, s.shape), detail::broadcast_strided(s.b, s.shape), yv,
                         dy.view());
        });
      }
      grads[i] = sum_to(d, in_shape);
    }
    return grads;
  }
};

}  // namespace atto
