// optim/adam.h -- Adam with amsgrad, (L2) weight decay, maximize: torch.optim.Adam.
// Twin: adam.cpp (the update equations). AdamW (decoupled weight decay) is in adamw.h.
#pragma once
#include <array>

#include "optim/optimizer.h"
#include "optim/update_fns.h"

namespace atto::optim {

struct AdamOptions {
  static constexpr const char* kName = "Adam";
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("eps", eps), f("weight_decay", weight_decay);
    f("amsgrad", amsgrad), f("maximize", maximize);
  }
};

// State: step (0-d float32, as PyTorch), exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad).
class Adam : public OptimizerBase<AdamOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

// ---- the update, shared by Adam and AdamW (adam.cpp) ------------------------------------------------

// Creates step/exp_avg/exp_avg_sq(/max_exp_avg_sq) on first use, on the parameter's device (step, a
// number, on the CPU as PyTorch keeps it).
void init_adam_state(StateDict& st, const Tensor& p, bool amsgrad);

// One parameter's part in a step: the parameter, its gradient, its state (step already incremented).
struct AdamItem {
  Tensor param, grad;
  StateDict* state = nullptr;
};

// The update of a group's parameters: for those whose tensors the fused kernel takes (contiguous
// float32/float64 parameter, gradient and buffers of one dtype and shape, on the parameter's
// device) ONE fused multi-tensor kernel call per device and dtype (NOTE [ Fused Adam ] in
// optim/update_fns.h); for the rest adam_update_composite.
void adam_update(const std::vector<AdamItem>& items, const AdamHyper& hyper);
// The same update of one parameter as separate tensor ops: the fallback, and the oracle the fused
// kernel is tested against (the tests call it directly).
void adam_update_composite(const AdamItem& item, const AdamHyper& hyper);

// Checks shared by the Adam family: lr, eps, weight_decay >= 0 and betas in [0, 1).
void check_adam_like(const char* name, double lr, const std::array<double, 2>& betas, double eps, double weight_decay);

}  // namespace atto::optim
