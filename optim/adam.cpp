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

namespace atto::optim {

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
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).add_(mul(grad, grad), 1 - beta2);

  const double step = step_t.item_double();
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

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
