// optim/rmsprop.cpp -- RMSprop's update (PyTorch's _single_tensor_rmsprop, same order of
// operations). Twin: rmsprop.h.
//
//   g = ±grad;  g = g + weight_decay * p                          (when weight_decay != 0)
//   v = alpha * v + (1 - alpha) * g * g
//   avg = sqrt(v - gbar * gbar) + eps  with  gbar = alpha * gbar + (1 - alpha) * g   (centered)
//   avg = sqrt(v) + eps                                            (otherwise)
//   b = momentum * b + g / avg;  p = p - lr * b                    (momentum > 0)
//   p = p - lr * g / avg                                           (otherwise)
#include "optim/rmsprop.h"

#include "autograd/functions/elementwise.h"

namespace atto::optim {

void RMSpropOptions::validate() const {
  ATTO_CHECK(lr >= 0, "[RMSprop] invalid learning rate: {}", lr);
  ATTO_CHECK(eps >= 0, "[RMSprop] invalid epsilon value: {}", eps);
  ATTO_CHECK(momentum >= 0, "[RMSprop] invalid momentum value: {}", momentum);
  ATTO_CHECK(weight_decay >= 0, "[RMSprop] invalid weight_decay value: {}", weight_decay);
  ATTO_CHECK(alpha >= 0, "[RMSprop] invalid alpha value: {}", alpha);
}

void RMSprop::update_group(size_t gi) {
  const RMSpropOptions& o = groups_[gi].options;
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {
      st.insert("step", scalar_tensor(0.0));
      st.insert("square_avg", zeros_like(p));
      if (o.momentum > 0) st.insert("momentum_buffer", zeros_like(p));
      if (o.centered) st.insert("grad_avg", zeros_like(p));
    }
    Tensor step_t = st.at("step");
    step_t.add_(1.0);
    Tensor square_avg = st.at("square_avg");
    if (o.maximize) grad = neg(grad);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);

    square_avg.mul_(o.alpha).add_(mul(grad, grad), 1 - o.alpha);
    Tensor avg;
    if (o.centered) {
      Tensor grad_avg = st.at("grad_avg");
      grad_avg.mul_(o.alpha).add_(grad, 1 - o.alpha);
      avg = sqrt(sub(square_avg, mul(grad_avg, grad_avg)));
    } else {
      avg = sqrt(square_avg);
    }
    avg.add_(o.eps);

    Tensor param = p;
    if (o.momentum > 0) {
      Tensor buf = st.at("momentum_buffer");
      buf.mul_(o.momentum).add_(div(grad, avg));
      param.add_(buf, -o.lr);
    } else {
      param.add_(div(grad, avg), -o.lr);
    }
  }
}

}  // namespace atto::optim
