// optim/adam.cpp -- Adam's update (PyTorch's _single_tensor_adam, same order of operations).
// Twin: adam.h.
//
//   t = t + 1;  g = ±grad;  g = g + weight_decay * p               (when weight_decay != 0)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)  and use vmax for v below                  (amsgrad)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#include "optim/adam.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "tensor/cpu/parallel_for.h"

namespace atto::optim {

namespace {

// The moment updates and the step of adam_moment_step (without amsgrad) as one pass over the
// elements, for contiguous CPU tensors: the same operations in the same order, each rounded to T
// as the separate elementwise ops round them (scalars cast to T first), so the result is bitwise
// the same -- but the parameter, gradient and both moments are read once instead of ten times.
template <class T>
void fused_adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, double beta1, double beta2,
                     double bias_correction2_sqrt, double eps, double step_size) {
  const T b1 = T(beta1), one_minus_b1 = T(1 - beta1), b2 = T(beta2), one_minus_b2 = T(1 - beta2);
  const T bc2 = T(bias_correction2_sqrt), e = T(eps), neg_step = T(-step_size);
  cpu::parallel_for(0, n, cpu::kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T g = grad[i];
      const T m = exp_avg[i] * b1 + one_minus_b1 * g;
      const T gg = g * g;
      const T v = exp_avg_sq[i] * b2 + one_minus_b2 * gg;
      const T denom = std::sqrt(v) / bc2 + e;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      param[i] = param[i] + neg_step * (m / denom);
    }
  });
}

bool fusable(const Tensor& p, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq) {
  for (const Tensor* t : {&p, &grad, &exp_avg, &exp_avg_sq})
    if (!t->device().is_cpu() || !t->is_contiguous() || t->dtype() != p.dtype() || t->shape() != p.shape())
      return false;
  return p.dtype() == kFloat32 || p.dtype() == kFloat64;
}

}  // namespace

void check_adam_like(const char* name, double lr, const std::array<double, 2>& betas, double eps,
                     double weight_decay) {
  ATTO_CHECK(lr >= 0, "[{}] invalid learning rate: {}", name, lr);
  ATTO_CHECK(eps >= 0, "[{}] invalid epsilon value: {}", name, eps);
  ATTO_CHECK(betas[0] >= 0 && betas[0] < 1, "[{}] invalid beta parameter at index 0: {} (want [0, 1))", name, betas[0]);
  ATTO_CHECK(betas[1] >= 0 && betas[1] < 1, "[{}] invalid beta parameter at index 1: {} (want [0, 1))", name, betas[1]);
  ATTO_CHECK(weight_decay >= 0, "[{}] invalid weight_decay value: {}", name, weight_decay);
}

void AdamOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

// The moment updates and the bias-corrected step shared by Adam and AdamW (they differ only in
// how weight decay enters): state must already hold step, exp_avg, exp_avg_sq (and max_exp_avg_sq).
void adam_moment_step(const Tensor& p, const Tensor& grad, StateDict& st, double lr, const std::array<double, 2>& betas,
                      double eps, bool amsgrad) {
  const double beta1 = betas[0], beta2 = betas[1];
  Tensor step_t = st.at("step"), exp_avg = st.at("exp_avg"), exp_avg_sq = st.at("exp_avg_sq");
  const double step = step_t.item_double();
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  if (!amsgrad && fusable(p, grad, exp_avg, exp_avg_sq)) {
    visit_floating(p.dtype(), "adam", [&](auto tag) {
      using T = decltype(tag);
      Tensor param = p;
      fused_adam_step<T>(param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(), exp_avg_sq.data_ptr<T>(),
                         p.numel(), beta1, beta2, bias_correction2_sqrt, eps, step_size);
    });
    return;
  }

  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).add_(mul(grad, grad), 1 - beta2);

  Tensor denom;
  if (amsgrad) {
    Tensor max_sq = st.at("max_exp_avg_sq");
    max_sq.copy_(maximum(max_sq, exp_avg_sq));
    denom = div(sqrt(max_sq), bias_correction2_sqrt).add_(eps);
  } else {
    denom = div(sqrt(exp_avg_sq), bias_correction2_sqrt).add_(eps);
  }
  Tensor param = p;
  param.add_(div(exp_avg, denom), -step_size);
}

void init_adam_state(StateDict& st, const Tensor& p, bool amsgrad) {
  if (!st.empty()) return;
  st.insert("step", scalar_tensor(0.0));
  st.insert("exp_avg", zeros_like(p));
  st.insert("exp_avg_sq", zeros_like(p));
  if (amsgrad) st.insert("max_exp_avg_sq", zeros_like(p));
}

void Adam::update_group(size_t gi) {
  const AdamOptions& o = groups_[gi].options;
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    init_adam_state(st, p, o.amsgrad);
    if (o.maximize) grad = neg(grad);
    Tensor(st.at("step")).add_(1.0);   // a handle: the update lands in the state
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);   // L2: decay folded into the gradient
    adam_moment_step(p, grad, st, o.lr, o.betas, o.eps, o.amsgrad);
  }
}

}  // namespace atto::optim
