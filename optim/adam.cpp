// optim/adam.cpp -- Adam's update (PyTorch's _single_tensor_adam, same order of operations), and
// the update Adam and AdamW share: fused (optim/update_fns.h, one kernel call per group on each
// device) or as separate tensor ops. Twin: adam.h.
//
//   t = t + 1;  g = ±grad;  g = g + weight_decay * p               (when weight_decay != 0)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)  and use vmax for v below                  (amsgrad)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
#include "optim/adam.h"

#include <cmath>
#include <utility>

#include "autograd/functions/elementwise.h"
#include "optim/cpu_kernels.h"
#include "tensor/dispatch.h"

namespace atto::optim {

namespace {

bool fusable(const AdamItem& item, bool amsgrad) {
  const Tensor& p = item.param;
  if (p.dtype() != kFloat32 && p.dtype() != kFloat64) return false;
  std::vector<const Tensor*> all{&p, &item.grad, &item.state->at("exp_avg"), &item.state->at("exp_avg_sq")};
  if (amsgrad) all.push_back(&item.state->at("max_exp_avg_sq"));
  for (const Tensor* t : all)
    if (t->device() != p.device() || !t->is_contiguous() || t->dtype() != p.dtype() || t->shape() != p.shape())
      return false;
  return true;
}

// lr / (1 - beta1^t) and sqrt(1 - beta2^t) for the parameter's step count t.
std::pair<double, double> bias_corrections(const StateDict& st, const AdamHyper& h) {
  const double step = st.at("step").item_double();
  const double bias_correction1 = 1 - std::pow(h.beta1, step);
  const double bias_correction2 = 1 - std::pow(h.beta2, step);
  return {h.lr / bias_correction1, std::sqrt(bias_correction2)};
}

}  // namespace

void check_adam_like(const char* name, double lr, const std::array<double, 2>& betas, double eps,
                     double weight_decay) {
  ATTO_CHECK(lr >= 0, "[{}] invalid learning rate: {}", name, lr);
  ATTO_CHECK(eps >= 0, "[{}] invalid epsilon value: {}", name, eps);
  ATTO_CHECK(betas[0] >= 0 && betas[0] < 1, "[{}] invalid beta parameter at index 0: {} (want [0, 1))", name, betas[0]);
  ATTO_CHECK(betas[1] >= 0 && betas[1] < 1, "[{}] invalid beta parameter at index 1: {} (want [0, 1))", name, betas[1]);
  ATTO_CHECK(weight_decay >= 0, "[{}] invalid weight_decay value: {}", name, weight_decay);
}

void AdamOptions::validate() const { check_adam_like(kName, lr, betas, eps, weight_decay); }

void adam_update(const std::vector<AdamItem>& items, const AdamHyper& hyper) {
  // The fused kernel's tables, one per (device, dtype), in the order parameters first appear.
  struct Table {
    Device device;
    DType dtype;
    std::vector<AdamTensorRef> refs;
  };
  std::vector<Table> tables;
  auto table_for = [&](const Tensor& p) -> std::vector<AdamTensorRef>& {
    for (Table& t : tables)
      if (t.device == p.device() && t.dtype == p.dtype()) return t.refs;
    tables.push_back({p.device(), p.dtype(), {}});
    return tables.back().refs;
  };
  for (const AdamItem& item : items) {
    if (!fusable(item, hyper.amsgrad)) {
      adam_update_composite(item, hyper);
      continue;
    }
    const Tensor& p = item.param;
    const auto [step_size, bias_correction2_sqrt] = bias_corrections(*item.state, hyper);
    table_for(p).push_back(AdamTensorRef{
        .param = p.raw_data(),
        .grad = item.grad.raw_data(),
        .exp_avg = item.state->at("exp_avg").raw_data(),
        .exp_avg_sq = item.state->at("exp_avg_sq").raw_data(),
        .max_exp_avg_sq = hyper.amsgrad ? item.state->at("max_exp_avg_sq").raw_data() : nullptr,
        .numel = p.numel(),
        .step_size = step_size,
        .bias_correction2_sqrt = bias_correction2_sqrt,
    });
  }
  for (const Table& t : tables) {
    visit_floating(t.dtype, "adam", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(t.device, adam_step<T>, t.refs.data(), int64_t(t.refs.size()), hyper);
    });
  }
}

// The separate tensor ops that adam_step fuses (PyTorch's _single_tensor_adam/_adamw).
void adam_update_composite(const AdamItem& item, const AdamHyper& hyper) {
  StateDict& st = *item.state;
  Tensor grad = item.grad, param = item.param;
  Tensor exp_avg = st.at("exp_avg"), exp_avg_sq = st.at("exp_avg_sq");
  const auto [step_size, bias_correction2_sqrt] = bias_corrections(st, hyper);
  if (hyper.maximize) grad = neg(grad);
  if (hyper.decoupled_weight_decay) param.mul_(1 - hyper.lr * hyper.weight_decay);   // AdamW: the parameter decays
  else if (hyper.weight_decay != 0) grad = add(grad, param, hyper.weight_decay);   // Adam: L2, folded into grad

  exp_avg.mul_(hyper.beta1).add_(grad, 1 - hyper.beta1);
  exp_avg_sq.mul_(hyper.beta2).add_(mul(grad, grad), 1 - hyper.beta2);

  Tensor denom;
  if (hyper.amsgrad) {
    Tensor max_sq = st.at("max_exp_avg_sq");
    max_sq.copy_(maximum(max_sq, exp_avg_sq));
    denom = div(sqrt(max_sq), bias_correction2_sqrt).add_(hyper.eps);
  } else {
    denom = div(sqrt(exp_avg_sq), bias_correction2_sqrt).add_(hyper.eps);
  }
  param.add_(div(exp_avg, denom), -step_size);
}

void init_adam_state(StateDict& st, const Tensor& p, bool amsgrad) {
  if (!st.empty()) return;
  st.insert("step", scalar_tensor(0.0));
  st.insert("exp_avg", zeros_like(p));
  st.insert("exp_avg_sq", zeros_like(p));
  if (amsgrad) st.insert("max_exp_avg_sq", zeros_like(p));
}

void Adam::update_group(size_t gi) {
  const AdamOptions& o = groups_[gi].options;
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
                      .weight_decay = o.weight_decay, .decoupled_weight_decay = false, .amsgrad = o.amsgrad,
                      .maximize = o.maximize});
}

}  // namespace atto::optim
