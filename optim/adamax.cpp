// optim/adamax.cpp -- Adamax's update (PyTorch's _single_tensor_adamax, same order of operations).
// Twin: adamax.h.
//
//   t = t + 1;  g = ±grad;  g = g + weight_decay * p               (when weight_decay != 0)
//   m = beta1 * m + (1 - beta1) * g
//   u = max(beta2 * u, |g| + eps)
//   p = p - lr / (1 - beta1^t) * m / u
#include "optim/adamax.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "optim/adam.h"

namespace atto::optim {

void AdamaxOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

void Adamax::update_group(size_t gi) {
  const AdamaxOptions& o = groups_[gi].options;
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("exp_avg", zeros_like(p));
      st.insert("exp_inf", zeros_like(p));
    }
    Tensor step_t = st.at("step"), exp_avg = st.at("exp_avg"), exp_inf = st.at("exp_inf");
    step_t.add_(1.0);
    const double step = step_t.item_double();
    if (o.maximize) grad = neg(grad);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);

    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_inf.mul_(beta2);
    exp_inf.copy_(maximum(exp_inf, abs(grad).add_(o.eps)));

    const double clr = o.lr / (1 - std::pow(beta1, step));
    Tensor param = p;
    param.add_(div(exp_avg, exp_inf), -clr);
  }
}

}  // namespace atto::optim
