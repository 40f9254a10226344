// optim/nadam.cpp -- NAdam's update (PyTorch's _single_tensor_nadam, same order of operations).
// Twin: nadam.h.
//
//   t = t + 1;  g = grad + weight_decay * p                        (when weight_decay != 0)
//   mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));  mu_{t+1} likewise
//   prod = prod * mu_t  (float32, as PyTorch's 0-d float tensor);  prod_next = prod * mu_t * mu_{t+1}
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   p = p - lr * (1 - mu_t) / (1 - prod) * g / denom
//   p = p - lr * mu_{t+1} / (1 - prod_next) * m / denom
#include "optim/nadam.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "optim/adam.h"

namespace atto::optim {

void NAdamOptions::validate() const {
  check_adam_like(kName, lr, betas, eps, weight_decay);
  ATTO_CHECK(momentum_decay >= 0, "[NAdam] invalid momentum_decay value: {}", momentum_decay);
}

void NAdam::update_group(size_t gi) {
  const NAdamOptions& o = groups_[gi].options;
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("mu_product", scalar_tensor(1.0));
      st.insert("exp_avg", zeros_like(p));
      st.insert("exp_avg_sq", zeros_like(p));
    }
    Tensor step_t = st.at("step"), mu_product_t = st.at("mu_product");
    Tensor exp_avg = st.at("exp_avg"), exp_avg_sq = st.at("exp_avg_sq");
    step_t.add_(1.0);
    const double step = step_t.item_double();
    const double bias_correction2 = 1 - std::pow(beta2, step);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);

    const double mu = beta1 * (1. - 0.5 * std::pow(0.96, step * o.momentum_decay));
    const double mu_next = beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * o.momentum_decay));
    const float mu_product = float(mu_product_t.item_double()) * float(mu);
    const float mu_product_next = mu_product * float(mu) * float(mu_next);
    mu_product_t.fill_(mu_product);

    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq.mul_(beta2).add_(mul(grad, grad), 1 - beta2);
    Tensor denom = sqrt(div(exp_avg_sq, bias_correction2)).add_(o.eps);
    Tensor param = p;
    param.add_(div(grad, denom), -o.lr * (1. - mu) / (1. - double(mu_product)));
    param.add_(div(exp_avg, denom), -o.lr * mu_next / (1. - double(mu_product_next)));
  }
}

}  // namespace atto::optim
