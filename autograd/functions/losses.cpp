// autograd/functions/losses.cpp -- cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits
// (see losses.h). Each loss is one differentiable function: forward computes per-element (or
// per-row) losses with a kernel of tensor/cpu/loss.h and reduces them deterministically; backward
// is the matching kernel, scaled by dy (and 1/divisor for a mean).
#include "autograd/functions/losses.h"

#include <array>
#include <numeric>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "tensor/cpu/loss.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

// ---- class losses: input laid out as (M, C) rows ------------------------------------------------

struct ClassRows {
  Tensor rows;     // (M, C) contiguous: the class dim moved last
  Tensor target;   // (M) contiguous int64
  Tensor weight;   // (C) contiguous, input's dtype; undefined for none
  int64_t M = 1, C = 1;
};

// Checks input/target/weight as PyTorch does and lays the input out as rows.
ClassRows class_rows(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore, const char* op) {
  ATTO_CHECK(input.is_floating_point(), "[{}] input must be floating, got {} (shape {})", op, input.dtype(),
             input.shape());
  ATTO_CHECK(input.ndim() >= 1, "[{}] input must have the classes on dim 1 (or be 1-d), got shape {}", op,
             input.shape());
  ATTO_CHECK(target.dtype() == kInt64, "[{}] target must hold int64 class indices, got {} (shape {})", op,
             target.dtype(), target.shape());
  check_same_device(input, target, op);
  const int nd = input.ndim();
  const int cdim = nd == 1 ? 0 : 1;
  Shape expected = input.shape();
  expected.erase(cdim);
  ATTO_CHECK(target.shape() == expected, "[{}] expected target of shape {} for input of shape {}, got {}", op,
             expected, input.shape(), target.shape());
  ClassRows cr;
  cr.C = input.shape()[cdim];
  cr.M = expected.numel();
  if (weight.defined()) {
    ATTO_CHECK(weight.ndim() == 1 && weight.numel() == cr.C,
               "[{}] weight must have one value per class, shape [{}], got {} (input shape {})", op, cr.C,
               weight.shape(), input.shape());
    ATTO_CHECK(weight.is_floating_point(), "[{}] weight must be floating, got {}", op, weight.dtype());
    check_same_device(input, weight, op);
    cr.weight = weight.to(input.dtype()).contiguous();
  }
  cr.target = target.contiguous().reshape({cr.M});
  Tensor host_target = cr.target.to(kCPU);   // checked before any kernel runs
  if (auto bad = cpu::find_bad_target(host_target.data_ptr<int64_t>(), cr.M, cr.C, ignore))
    throw Error(fmt::format("[{}] target {} is out of range for {} classes (valid range [0, {}), or ignore_index {})",
                            op, *bad, cr.C, cr.C, ignore));
  Tensor moved = input;
  if (nd >= 3) {
    std::vector<int64_t> perm{0};
    for (int d = 2; d < nd; ++d) perm.push_back(d);
    perm.push_back(1);
    moved = input.permute(perm);
  }
  cr.rows = moved.contiguous().reshape({cr.M, cr.C});
  return cr;
}

// The inverse layout: a (M, C) gradient back to the input's shape (classes on dim 1).
Tensor from_rows(const Tensor& rows, const Shape& in_shape) {
  const int nd = in_shape.size();
  if (nd <= 2) return rows.reshape(in_shape);
  Shape moved;
  moved.push_back(in_shape[0]);
  for (int d = 2; d < nd; ++d) moved.push_back(in_shape[d]);
  moved.push_back(in_shape[1]);
  std::vector<int64_t> perm{0, nd - 1};
  for (int d = 1; d < nd - 1; ++d) perm.push_back(d);
  return rows.reshape(moved).permute(perm);
}

// The loss tensor for a reduction: target's shape for None, 0-d otherwise.
Tensor loss_output(const Tensor& input, const Shape& none_shape, Reduction r) {
  return empty(r == Reduction::None ? none_shape : Shape{}, {.dtype = input.dtype(), .device = input.device()});
}

struct CrossEntropy {
  static constexpr const char* name = "CrossEntropyBackward";
  struct Saved { ClassRows cr; Tensor lse; Shape in_shape; CrossEntropyOptions o; double div = 1; };
  static Tensor forward(Saved& s, const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
    ATTO_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1,
               "[cross_entropy] label_smoothing must be in [0, 1], got {}", o.label_smoothing);
    ClassRows cr = class_rows(input, target, o.weight, o.ignore_index, "cross_entropy");
    Tensor y = loss_output(input, target.shape(), o.reduction);
    TensorOptions opt{.dtype = input.dtype(), .device = input.device()};
    Tensor per_row = o.reduction == Reduction::None ? y : empty({cr.M}, opt);
    Tensor wt = empty({cr.M}, opt), lse = empty({cr.M}, opt);
    visit_floating(input.dtype(), "cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      const T* w = cr.weight.defined() ? cr.weight.data_ptr<T>() : nullptr;
      ATTO_ON_DEVICE(input.device(), cross_entropy_rows<T>, cr.rows.data_ptr<T>(), cr.target.data_ptr<int64_t>(), w,
                     cr.M, cr.C, o.ignore_index, o.label_smoothing, per_row.data_ptr<T>(), wt.data_ptr<T>(),
                     lse.data_ptr<T>());
      if (o.reduction != Reduction::None)
        s.div = ATTO_ON_DEVICE(input.device(), reduce_loss<T>, per_row.data_ptr<T>(), wt.data_ptr<T>(), cr.M,
                               o.reduction == Reduction::Mean, y.data_ptr<T>());
    });
    s.cr = cr;
    s.lse = lse;
    s.in_shape = input.shape();
    s.o = o;
    return y;
  }
  // forward: loss_r = (1 - eps) w_t (lse_r - x_rt) + eps/C sum_j w_j (lse_r - x_rj), reduced
  //   =>  dx_rk = g_r [(1 - eps) w_t (softmax_rk - [k == t]) + eps/C (W softmax_rk - w_k)]
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    const ClassRows& cr = s.cr;
    Tensor g = dy.contiguous();
    Tensor dx = empty({cr.M, cr.C}, {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      const T* w = cr.weight.defined() ? cr.weight.data_ptr<T>() : nullptr;
      ATTO_ON_DEVICE(dy.device(), cross_entropy_rows_backward<T>, cr.rows.data_ptr<T>(), cr.target.data_ptr<int64_t>(),
                     w, s.lse.data_ptr<T>(), g.data_ptr<T>(), s.o.reduction == Reduction::None ? 1 : 0, 1.0 / s.div,
                     cr.M, cr.C, s.o.ignore_index, s.o.label_smoothing, dx.data_ptr<T>());
    });
    return {from_rows(dx, s.in_shape), Tensor()};
  }
};

struct NllLoss {
  static constexpr const char* name = "NllLossBackward";
  struct Saved { ClassRows cr; Shape in_shape; NLLLossOptions o; double div = 1; };
  static Tensor forward(Saved& s, const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
    ClassRows cr = class_rows(input, target, o.weight, o.ignore_index, "nll_loss");
    Tensor y = loss_output(input, target.shape(), o.reduction);
    TensorOptions opt{.dtype = input.dtype(), .device = input.device()};
    Tensor per_row = o.reduction == Reduction::None ? y : empty({cr.M}, opt);
    Tensor wt = empty({cr.M}, opt);
    visit_floating(input.dtype(), "nll_loss", [&](auto tag) {
      using T = decltype(tag);
      const T* w = cr.weight.defined() ? cr.weight.data_ptr<T>() : nullptr;
      ATTO_ON_DEVICE(input.device(), nll_rows<T>, cr.rows.data_ptr<T>(), cr.target.data_ptr<int64_t>(), w, cr.M, cr.C,
                     o.ignore_index, per_row.data_ptr<T>(), wt.data_ptr<T>());
      if (o.reduction != Reduction::None)
        s.div = ATTO_ON_DEVICE(input.device(), reduce_loss<T>, per_row.data_ptr<T>(), wt.data_ptr<T>(), cr.M,
                               o.reduction == Reduction::Mean, y.data_ptr<T>());
    });
    cr.rows = Tensor();   // backward needs only targets and weights
    s.cr = cr;
    s.in_shape = input.shape();
    s.o = o;
    return y;
  }
  // forward: loss_r = -w_t x_rt, reduced   =>   dx_rt = -w_t g_r, zero elsewhere
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    const ClassRows& cr = s.cr;
    Tensor g = dy.contiguous();
    Tensor dx = zeros({cr.M, cr.C}, {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "nll_loss", [&](auto tag) {
      using T = decltype(tag);
      const T* w = cr.weight.defined() ? cr.weight.data_ptr<T>() : nullptr;
      ATTO_ON_DEVICE(dy.device(), nll_rows_backward<T>, cr.target.data_ptr<int64_t>(), w, g.data_ptr<T>(),
                     s.o.reduction == Reduction::None ? 1 : 0, 1.0 / s.div, cr.M, cr.C, s.o.ignore_index,
                     dx.data_ptr<T>());
    });
    return {from_rows(dx, s.in_shape), Tensor()};
  }
};

// ---- elementwise losses ----------------------------------------------------------------------------

// Sums (or averages) an elementwise loss buffer into a 0-d tensor.
Tensor reduce_elementwise(const Tensor& per_elem, Reduction r, const char* op) {
  if (r == Reduction::None) return per_elem;
  Tensor y = empty({}, {.dtype = per_elem.dtype(), .device = per_elem.device()});
  visit_floating(per_elem.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(per_elem.device(), reduce_loss<T>, per_elem.data_ptr<T>(), static_cast<const T*>(nullptr),
                   per_elem.numel(), r == Reduction::Mean, y.data_ptr<T>());
  });
  return y;
}

// dy seen with the loss's elementwise shape, and the factor for a mean.
std::pair<Tensor, double> upstream(const Tensor& dy, const Shape& shape, Reduction r) {
  return {broadcast_view(dy, shape), r == Reduction::Mean && shape.numel() > 0 ? 1.0 / double(shape.numel()) : 1.0};
}

struct MseLoss {
  static constexpr const char* name = "MseLossBackward";
  struct Saved : SavedBase { Tensor a, b; Shape shape; Reduction reduction = Reduction::Mean; };
  static Tensor forward(Saved& s, const Tensor& input, const Tensor& target, Reduction reduction) {
    check_same_device(input, target, "mse_loss");
    Shape shape = broadcast_shapes(input.shape(), target.shape(), "mse_loss");
    DType dt = promote_types(input.dtype(), target.dtype());
    Tensor a = input.to(dt), b = target.to(dt);
    Tensor sq = empty(shape, {.dtype = dt, .device = input.device()});
    visit_floating(dt, "mse_loss", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(input.device(), mse_forward<T>, sq.view(), broadcast_view(a, shape).view(),
                     broadcast_view(b, shape).view());
    });
    s.a = a;
    s.b = b;
    s.shape = shape;
    s.reduction = reduction;
    return reduce_elementwise(sq, reduction, "mse_loss");
  }
  // forward: loss = reduce((a - b)^2)   =>   da = 2 (a - b) g,  db = -2 (a - b) g  (g = dy, / n for a mean)
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    auto [g, scale] = upstream(dy, s.shape, s.reduction);
    std::array<Tensor, 2> grads;
    for (int i = 0; i < 2; ++i) {
      if (!s.needs_input_grad(i)) continue;
      Tensor d = empty(s.shape, {.dtype = s.a.dtype(), .device = s.a.device()});
      visit_floating(d.dtype(), "mse_loss", [&](auto tag) {
        using T = decltype(tag);
        ATTO_ON_DEVICE(d.device(), mse_backward<T>, d.view(), broadcast_view(s.a, s.shape).view(),
                       broadcast_view(s.b, s.shape).view(), g.view(), T(i == 0 ? scale : -scale));
      });
      grads[i] = sum_to(d, (i == 0 ? s.a : s.b).shape());
    }
    return grads;
  }
};

struct BceWithLogits {
  static constexpr const char* name = "BinaryCrossEntropyWithLogitsBackward";
  struct Saved : SavedBase { Tensor x, t, w, pw; Reduction reduction = Reduction::Mean; };
  static Tensor forward(Saved& s, const Tensor& x, const Tensor& t_in, const Tensor& w_in, const Tensor& pw_in,
                        Reduction reduction) {
    constexpr const char* op = "binary_cross_entropy_with_logits";
    ATTO_CHECK(x.is_floating_point() && t_in.is_floating_point(), "[{}] input and target must be floating, got {} and {}",
               op, x.dtype(), t_in.dtype());
    ATTO_CHECK(t_in.shape() == x.shape(), "[{}] target shape {} must match input shape {}", op, t_in.shape(),
               x.shape());
    check_same_device(x, t_in, op);
    const Shape& shape = x.shape();
    // weight and pos_weight: broadcast to the input's shape; a missing one is a broadcast 1.
    auto prep = [&](const Tensor& w, const char* what) {
      if (!w.defined()) return broadcast_view(scalar_tensor(1.0, {.dtype = x.dtype(), .device = x.device()}), shape);
      check_same_device(x, w, op);
      ATTO_CHECK(w.is_floating_point(), "[{}] {} must be floating, got {}", op, what, w.dtype());
      ATTO_CHECK(broadcast_shapes(shape, w.shape(), op) == shape, "[{}] {} of shape {} does not broadcast to input "
                 "shape {}", op, what, w.shape(), shape);
      return broadcast_view(w.to(x.dtype()), shape);
    };
    s.x = x;
    s.t = t_in.to(x.dtype());
    s.w = prep(w_in, "weight");
    s.pw = prep(pw_in, "pos_weight");
    s.reduction = reduction;
    Tensor l = empty(shape, {.dtype = x.dtype(), .device = x.device()});
    visit_floating(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), bce_logits_forward<T>, l.view(), x.view(), s.t.view(), s.w.view(), s.pw.view());
    });
    return reduce_elementwise(l, reduction, op);
  }
  // forward: loss = w [(1 - t) x + (1 + (pw - 1) t) softplus(-x)], reduced
  //   =>  dx = w [(pw t + 1 - t) sigmoid(x) - pw t] g,   dt = w [-x + (pw - 1) softplus(-x)] g
  // (weight and pos_weight get no gradient, as in PyTorch.)
  static std::array<Tensor, 4> backward(Saved& s, const Tensor& dy) {
    auto [g, scale] = upstream(dy, s.x.shape(), s.reduction);
    std::array<Tensor, 4> grads;
    for (int i = 0; i < 2; ++i) {
      if (!s.needs_input_grad(i)) continue;
      Tensor d = empty_like(s.x);
      visit_floating(d.dtype(), "binary_cross_entropy_with_logits", [&](auto tag) {
        using T = decltype(tag);
        ATTO_ON_DEVICE(d.device(), bce_logits_backward<T>, i == 1, d.view(), s.x.view(), s.t.view(), s.w.view(),
                       s.pw.view(), g.view(), T(scale));
      });
      grads[i] = d;
    }
    return grads;
  }
};

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options) {
  return apply<CrossEntropy>(input, target, options);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options) {
  return apply<NllLoss>(input, target, options);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return apply<MseLoss>(input, target, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  return apply<BceWithLogits>(input, target, weight, pos_weight, reduction);
}

}  // namespace atto
