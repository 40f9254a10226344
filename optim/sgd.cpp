// optim/sgd.cpp -- SGD's update (PyTorch's _single_tensor_sgd, same order of operations). Twin: sgd.h.
//
//   g = ±grad                        (minus when maximize)
//   g = g + weight_decay * p         (when weight_decay != 0)
//   b = g  at the first step, else  b = momentum * b + (1 - dampening) * g      (when momentum != 0)
//   g = g + momentum * b  (nesterov)  or  g = b
//   p = p - lr * g
#include "optim/sgd.h"

#include "autograd/functions/elementwise.h"

namespace atto::optim {

void SGDOptions::validate() const {
  ATTO_CHECK(!std::isnan(lr), "[SGD] lr is required (SGDOptions{{.lr = ...}})");
  ATTO_CHECK(lr >= 0, "[SGD] invalid learning rate: {}", lr);
  ATTO_CHECK(momentum >= 0, "[SGD] invalid momentum value: {}", momentum);
  ATTO_CHECK(weight_decay >= 0, "[SGD] invalid weight_decay value: {}", weight_decay);
  ATTO_CHECK(!nesterov || (momentum > 0 && dampening == 0),
             "[SGD] Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})", momentum,
             dampening);
}

void SGD::update_group(size_t gi) {
  const SGDOptions& o = groups_[gi].options;
  for (const Tensor& p : groups_[gi].params) {
    Tensor d_p = p.grad();
    if (!d_p.defined()) continue;
    if (o.maximize) d_p = neg(d_p);
    if (o.weight_decay != 0) d_p = add(d_p, p, o.weight_decay);
    if (o.momentum != 0) {
      StateDict& st = mutable_state(p);
      Tensor* buf = st.find("momentum_buffer");
      if (!buf) {
        st.insert("momentum_buffer", d_p.clone().detach());
        buf = st.find("momentum_buffer");
      } else {
        buf->mul_(o.momentum).add_(d_p, 1 - o.dampening);
      }
      d_p = o.nesterov ? add(d_p, *buf, o.momentum) : *buf;
    }
    Tensor param = p;
    param.add_(d_p, -o.lr);
  }
}

}  // namespace atto::optim
