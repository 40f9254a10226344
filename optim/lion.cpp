// optim/lion.cpp -- Lion's update (the paper's Program 1, in lion-pytorch's order). Twin: lion.h.
//
//   g = ±grad
//   p = p * (1 - lr * weight_decay)                  (decoupled weight decay)
//   p = p - lr * sign(beta1 * m + (1 - beta1) * g)   (the update interpolates with beta1 ...)
//   m = beta2 * m + (1 - beta2) * g                  (... the momentum tracks with beta2)
#include "optim/lion.h"

#include "autograd/functions/elementwise.h"

namespace atto::optim {

void LionOptions::validate() const {
  ATTO_CHECK(lr >= 0, "[Lion] invalid learning rate: {}", lr);
  ATTO_CHECK(betas[0] >= 0 && betas[0] <= 1, "[Lion] invalid beta parameter at index 0: {} (want [0, 1])", betas[0]);
  ATTO_CHECK(betas[1] >= 0 && betas[1] <= 1, "[Lion] invalid beta parameter at index 1: {} (want [0, 1])", betas[1]);
  ATTO_CHECK(weight_decay >= 0, "[Lion] invalid weight_decay value: {}", weight_decay);
}

void Lion::update_group(size_t gi) {
  const LionOptions& o = groups_[gi].options;
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) st.insert("exp_avg", zeros_like(p));
    Tensor exp_avg = st.at("exp_avg");
    if (o.maximize) grad = neg(grad);
    Tensor param = p;
    param.mul_(1 - o.lr * o.weight_decay);

    Tensor c = add(mul(exp_avg, beta1), grad, 1 - beta1);
    Tensor sign = sub(gt(c, 0.0).to(c.dtype()), lt(c, 0.0).to(c.dtype()));
    param.add_(sign, -o.lr);
    exp_avg.mul_(beta2).add_(grad, 1 - beta2);
  }
}

}  // namespace atto::optim
