// optim/adamw.cpp -- AdamW's update (PyTorch's _single_tensor_adamw, same order of operations).
// Twin: adamw.h.
//
//   t = t + 1;  g = ±grad
//   p = p * (1 - lr * weight_decay)                                (decoupled decay, before the step)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)  and use vmax for v below                  (amsgrad)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#include "optim/adamw.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "optim/adam.h"

namespace atto::optim {

void AdamWOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

void AdamW::update_group(size_t gi) {
  const AdamWOptions& o = groups_[gi].options;
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("exp_avg", zeros_like(p));
      st.insert("exp_avg_sq", zeros_like(p));
      if (o.amsgrad) st.insert("max_exp_avg_sq", zeros_like(p));
    }
    Tensor step_t = st.at("step"), exp_avg = st.at("exp_avg"), exp_avg_sq = st.at("exp_avg_sq");
    Tensor param = p;
    if (o.maximize) grad = neg(grad);
    step_t.add_(1.0);
    param.mul_(1 - o.lr * o.weight_decay);

    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq.mul_(beta2).add_(mul(grad, grad), 1 - beta2);

    const double step = step_t.item_double();
    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);
    const double step_size = o.lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);

    Tensor denom;
    if (o.amsgrad) {
      Tensor max_sq = st.at("max_exp_avg_sq");
      max_sq.copy_(maximum(max_sq, exp_avg_sq));
      denom = div(sqrt(max_sq), bias_correction2_sqrt).add_(o.eps);
    } else {
      denom = div(sqrt(exp_avg_sq), bias_correction2_sqrt).add_(o.eps);
    }
    param.add_(div(exp_avg, denom), -step_size);
  }
}

}  // namespace atto::optim
