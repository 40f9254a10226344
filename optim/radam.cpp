// optim/radam.cpp -- RAdam's update (PyTorch's _single_tensor_radam, same order of operations).
// Twin: radam.h.
//
//   t = t + 1;  g = grad + weight_decay * p                        (when weight_decay != 0)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
//   mhat = m / (1 - beta1^t)
//   rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
//   rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//               p = p - mhat * lr * (sqrt(1 - beta2^t) / (sqrt(v) + eps)) * r
//   otherwise:  p = p - mhat * lr
#include "optim/radam.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "optim/adam.h"

namespace atto::optim {

void RAdamOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

void RAdam::update_group(size_t gi) {
  const RAdamOptions& o = groups_[gi].options;
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("exp_avg", zeros_like(p));
      st.insert("exp_avg_sq", zeros_like(p));
    }
    Tensor step_t = st.at("step"), exp_avg = st.at("exp_avg"), exp_avg_sq = st.at("exp_avg_sq");
    step_t.add_(1.0);
    const double step = step_t.item_double();
    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);

    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq.mul_(beta2).add_(mul(grad, grad), 1 - beta2);
    Tensor bias_corrected_exp_avg = div(exp_avg, bias_correction1);

    const double rho_inf = 2 / (1 - beta2) - 1;
    const double rho_t = rho_inf - 2 * step * std::pow(beta2, step) / bias_correction2;
    Tensor param = p;
    if (rho_t > 5.) {
      const double rect =
          std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
      Tensor adaptive_lr = div(Scalar(std::sqrt(bias_correction2)), sqrt(exp_avg_sq).add_(o.eps));
      param.add_(mul(mul(mul(bias_corrected_exp_avg, o.lr), adaptive_lr), rect), -1.0);
    } else {
      param.add_(mul(bias_corrected_exp_avg, o.lr), -1.0);
    }
  }
}

}  // namespace atto::optim
