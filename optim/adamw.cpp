// optim/adamw.cpp -- AdamW's update (PyTorch's _single_tensor_adamw, same order of operations),
// through the update it shares with Adam (adam_update in adam.cpp). Twin: adamw.h.
//
//   t = t + 1;  g = ±grad
//   p = p * (1 - lr * weight_decay)                                (decoupled decay, before the step)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)  and use vmax for v below                  (amsgrad)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#include "optim/adamw.h"

#include "optim/adam.h"

namespace atto::optim {

void AdamWOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

void AdamW::update_group(size_t gi) {
  const AdamWOptions& o = groups_[gi].options;
  std::vector<AdamItem> items;
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    init_adam_state(st, p, o.amsgrad);
    Tensor(st.at("step")).add_(1.0);   // a handle: the update lands in the state
    items.push_back({p, grad, &st});
  }
  adam_update(items, {.lr = o.lr, .beta1 = o.betas[0], .beta2 = o.betas[1], .eps = o.eps,
                      .weight_decay = o.weight_decay, .decoupled_weight_decay = true, .amsgrad = o.amsgrad,
                      .maximize = o.maximize});
}

}  // namespace atto::optim
