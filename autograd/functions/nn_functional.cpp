// autograd/functions/nn_functional.cpp -- softmax, log_softmax and layer_norm: row kernels for
// forward and backward (tensor/cpu/softmax.h, tensor/cpu/layernorm.h) wrapped as differentiable ops.
#include "autograd/functions/nn_functional.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "autograd/function.h"
#include "autograd/functions/elementwise.h"
#include "tensor/cpu/layernorm.h"
#include "tensor/cpu/softmax.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

// ---- softmax / log_softmax ----------------------------------------------------------------------------

// The contiguous input seen as (outer, n, inner) around `dim` (see tensor/cpu/softmax.h).
struct Lines {
  int64_t outer = 1, n = 1, inner = 1;
};
Lines lines_around(const Shape& shape, int dim) {
  Lines l;
  for (int d = 0; d < shape.size(); ++d) {
    if (d < dim) l.outer *= shape[d];
    else if (d == dim) l.n = shape[d];
    else l.inner *= shape[d];
  }
  return l;
}

struct SoftmaxSaved { Tensor y; Lines l; };   // outside the template: no `template` keyword needed

template <bool Log> struct Softmax {
  static constexpr const char* name = Log ? "LogSoftmaxBackward" : "SoftmaxBackward";
  static constexpr const char* op = Log ? "log_softmax" : "softmax";
  using Saved = SoftmaxSaved;
  static Tensor forward(Saved& s, const Tensor& x_in, int64_t dim) {
    s.l = lines_around(x_in.shape(), normalize_dim(dim, x_in.ndim(), op));
    Tensor x = x_in.contiguous();
    Tensor y = empty_like(x);
    visit_floating(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (x.numel() > 0)
        ATTO_ON_DEVICE(x.device(), softmax_forward<T>, x.data_ptr<T>(), y.data_ptr<T>(), s.l.outer, s.l.n,
                       s.l.inner, Log);
    });
    return s.y = y;
  }
  // forward: y = softmax(x) (or log_softmax(x)) along dim; formulas at softmax_backward:
  //   softmax:      dx = y * (dy - sum(dy * y))
  //   log_softmax:  dx = dy - exp(y) * sum(dy)
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_like(s.y);
    visit_floating(s.y.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (dx.numel() > 0)
        ATTO_ON_DEVICE(dx.device(), softmax_backward<T>, s.y.data_ptr<T>(), dy.data_ptr<T>(), dx.data_ptr<T>(),
                       s.l.outer, s.l.n, s.l.inner, Log);
    });
    return {dx};
  }
};

// Softmax over the last dim of (..., L, S) with row i of each (L, S) block seeing keys j <= i only
// (tensor/cpu/softmax.h, softmax_forward_causal): the CPU path of causal attention, the same bits as
// softmax(masked_fill(x, j > i, -inf)) without the mask. The backward is softmax's.
struct CausalSoftmax {
  static constexpr const char* name = "CausalSoftmaxBackward";
  using Saved = SoftmaxSaved;
  static Tensor forward(Saved& s, const Tensor& x_in) {
    const int64_t L = x_in.size(-2), S = x_in.size(-1);
    s.l = {.outer = x_in.numel() / std::max<int64_t>(S, 1), .n = S, .inner = 1};   // rows of S
    Tensor x = x_in.contiguous();
    Tensor y = empty_like(x);
    visit_floating(x.dtype(), "causal_softmax", [&](auto tag) {
      using T = decltype(tag);
      if (x.numel() > 0) cpu::softmax_forward_causal<T>(x.data_ptr<T>(), y.data_ptr<T>(), s.l.outer, L, S);
    });
    return s.y = y;
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return Softmax<false>::backward(s, dy); }
};

// ---- layer_norm ------------------------------------------------------------------------------------------

struct LayerNorm {
  static constexpr const char* name = "LayerNormBackward";
  struct Saved : SavedBase { Tensor x, weight, mean, rstd; Shape normalized_shape; int64_t rows = 0, C = 0; };
  static Tensor forward(Saved& s, const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                        const Shape& normalized_shape, double eps) {
    const int k = normalized_shape.size(), nd = x_in.ndim();
    ATTO_CHECK(k > 0, "[layer_norm] normalized_shape must have at least one dim (input shape {})", x_in.shape());
    bool match = nd >= k;
    for (int i = 0; i < k && match; ++i) match = x_in.shape()[nd - k + i] == normalized_shape[i];
    ATTO_CHECK(match, "[layer_norm] normalized_shape {} does not match the trailing dims of the input of shape {}",
               normalized_shape, x_in.shape());
    for (const Tensor* p : {&weight, &bias}) {
      if (!p->defined()) continue;
      const char* what = p == &weight ? "weight" : "bias";
      ATTO_CHECK(p->shape() == normalized_shape, "[layer_norm] {} has shape {}, expected normalized_shape {}", what,
                 p->shape(), normalized_shape);
      ATTO_CHECK(p->dtype() == x_in.dtype(), "[layer_norm] {} is {} but the input is {}", what, p->dtype(),
                 x_in.dtype());
      check_same_device(x_in, *p, "layer_norm");
    }
    s.normalized_shape = normalized_shape;
    s.C = normalized_shape.numel();
    s.rows = s.C == 0 ? 0 : x_in.numel() / s.C;
    s.x = x_in.contiguous();
    if (weight.defined()) s.weight = weight.contiguous();
    Tensor b = bias.defined() ? bias.contiguous() : Tensor{};
    Tensor y = empty_like(s.x);
    s.mean = empty({s.rows}, {.dtype = s.x.dtype(), .device = s.x.device()});
    s.rstd = empty({s.rows}, {.dtype = s.x.dtype(), .device = s.x.device()});
    visit_floating(s.x.dtype(), "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(s.x.device(), layernorm_forward<T>, s.x.data_ptr<T>(),
                     s.weight.defined() ? s.weight.data_ptr<T>() : nullptr, b.defined() ? b.data_ptr<T>() : nullptr,
                     y.data_ptr<T>(), s.mean.data_ptr<T>(), s.rstd.data_ptr<T>(), s.rows, s.C, eps);
    });
    return y;
  }
  // forward: y = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(var + eps), per row of C elements;
  // the derivation of dx, dweight, dbias is at layernorm_backward.
  static std::array<Tensor, 3> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    std::array<Tensor, 3> g;
    if (s.needs_input_grad(0)) g[0] = empty_like(s.x);
    if (s.weight.defined() && s.needs_input_grad(1)) g[1] = empty_like(s.weight);
    if (s.needs_input_grad(2)) g[2] = empty(s.normalized_shape, {.dtype = s.x.dtype(), .device = s.x.device()});
    visit_floating(s.x.dtype(), "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; };
      ATTO_ON_DEVICE(s.x.device(), layernorm_backward<T>, dy.data_ptr<T>(), s.x.data_ptr<T>(), ptr(s.weight),
                     s.mean.data_ptr<T>(), s.rstd.data_ptr<T>(), ptr(g[0]), ptr(g[1]), ptr(g[2]), s.rows, s.C);
    });
    return g;
  }
};

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return apply<Softmax<false>>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return apply<Softmax<true>>(x, dim); }

Tensor causal_hidden_keys(int64_t L, int64_t S, Device device) {
  Tensor i = arange(double(L), {.dtype = kInt64, .device = device}).unsqueeze(1);   // (L, 1)
  Tensor j = arange(double(S), {.dtype = kInt64, .device = device});                // (S)
  return gt(j, i);                                                                   // (L, S)
}

Tensor causal_softmax(const Tensor& x) {
  ATTO_CHECK(x.ndim() >= 2, "[causal_softmax] expected scores (..., L, S) with at least 2 dims, got {}", x.shape());
  if (!x.device().is_cpu())   // the composite it stands for
    return softmax(masked_fill(x, causal_hidden_keys(x.size(-2), x.size(-1), x.device()), -INFINITY), -1);
  return apply<CausalSoftmax>(x);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return apply<LayerNorm>(x, weight, bias, normalized_shape, eps);
}

Tensor Tensor::softmax(int64_t dim) const { return atto::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return atto::log_softmax(*this, dim); }

}  // namespace atto
