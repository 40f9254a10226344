// optim/adagrad.cpp -- Adagrad's update (PyTorch's _single_tensor_adagrad, same order of
// operations). Twin: adagrad.h.
//
//   t = t + 1;  g = ±grad;  g = g + weight_decay * p               (when weight_decay != 0)
//   clr = lr / (1 + (t - 1) * lr_decay)
//   s = s + g * g                                                  (s starts at initial_accumulator_value)
//   p = p - clr * g / (sqrt(s) + eps)
#include "optim/adagrad.h"

#include "autograd/functions/elementwise.h"

namespace atto::optim {

void AdagradOptions::validate() const {
  ATTO_CHECK(lr >= 0, "[Adagrad] invalid learning rate: {}", lr);
  ATTO_CHECK(lr_decay >= 0, "[Adagrad] invalid lr_decay value: {}", lr_decay);
  ATTO_CHECK(weight_decay >= 0, "[Adagrad] invalid weight_decay value: {}", weight_decay);
  ATTO_CHECK(initial_accumulator_value >= 0, "[Adagrad] invalid initial_accumulator_value value: {}",
             initial_accumulator_value);
  ATTO_CHECK(eps >= 0, "[Adagrad] invalid epsilon value: {}", eps);
}

// The base constructors add groups without the state; add it here, as PyTorch's __init__ does.
Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : OptimizerBase(std::vector<Group>{}, std::move(options)) {
  add_param_group(Group{std::move(params), defaults_});
}

Adagrad::Adagrad(std::vector<Group> groups, AdagradOptions defaults)
    : OptimizerBase(std::vector<Group>{}, std::move(defaults)) {
  for (auto& g : groups) add_param_group(std::move(g));
}

void Adagrad::add_param_group(Group group) {
  OptimizerBase::add_param_group(std::move(group));
  const Group& g = groups_.back();
  for (const Tensor& p : g.params) {
    StateDict& st = mutable_state(p);
    st.insert("step", scalar_tensor(0.0));
    st.insert("sum", full_like(p, g.options.initial_accumulator_value));
  }
}

void Adagrad::update_group(size_t gi) {
  const AdagradOptions& o = groups_[gi].options;
  for (const Tensor& p : groups_[gi].params) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    StateDict& st = mutable_state(p);
    if (st.empty()) {   // a group added through the base class
      st.insert("step", scalar_tensor(0.0));
      st.insert("sum", full_like(p, o.initial_accumulator_value));
    }
    Tensor step_t = st.at("step"), state_sum = st.at("sum");
    step_t.add_(1.0);
    const double step = step_t.item_double();
    if (o.maximize) grad = neg(grad);
    if (o.weight_decay != 0) grad = add(grad, p, o.weight_decay);
    const double clr = o.lr / (1 + (step - 1) * o.lr_decay);
    state_sum.add_(mul(grad, grad));
    Tensor std_dev = sqrt(state_sum).add_(o.eps);
    Tensor param = p;
    param.add_(div(grad, std_dev), -clr);
  }
}

}  // namespace atto::optim
