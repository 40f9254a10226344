// optim/adadelta.cpp -- Adadelta's update (PyTorch's _single_tensor_adadelta, same order of
// operations). Twin: adadelta.h.
//
//   g = ±grad;  g = g + weight_decay * p                          (when weight_decay != 0)
//   v = rho * v + (1 - rho) * g * g
//   delta = sqrt(u + eps) / sqrt(v + eps) * g
//   u = rho * u + (1 - rho) * delta * delta
//   p = p - lr * delta
#include "optim/adadelta.h"

#include "autograd/functions/elementwise.h"

namespace atto::optim {

void AdadeltaOptions::validate() const {
  ATTO_CHECK(lr >= 0, "[Adadelta] invalid learning rate: {}", lr);
  ATTO_CHECK(rho >= 0 && rho <= 1, "[Adadelta] invalid rho value: {} (want [0, 1])", rho);
  ATTO_CHECK(eps >= 0, "[Adadelta] invalid epsilon value: {}", eps);
  ATTO_CHECK(weight_decay >= 0, "[Adadelta] invalid weight_decay value: {}", weight_decay);
}

void Adadelta::update_group(size_t gi) {
  const AdadeltaOptions& o = groups_[gi].options;
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("square_avg", zeros_like(p));
      st.insert("acc_delta", zeros_like(p));
    }
    Tensor step_t = st.at("step"), square_avg = st.at("square_avg"), acc_delta = st.at("acc_delta");
    step_t.add_(1.0);
    if (o.maximize) grad = neg(grad);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);

    square_avg.mul_(o.rho).add_(mul(grad, grad), 1 - o.rho);
    Tensor std_dev = sqrt(add(square_avg, o.eps));
    Tensor delta = sqrt(add(acc_delta, o.eps));
    delta.div_(std_dev).mul_(grad);
    acc_delta.mul_(o.rho).add_(mul(delta, delta), 1 - o.rho);
    Tensor param = p;
    param.add_(delta, -o.lr);
  }
}

}  // namespace atto::optim
