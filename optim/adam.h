// optim/adam.h -- Adam with amsgrad, (L2) weight decay, maximize: torch.optim.Adam.
// Twin: adam.cpp (the update equations). AdamW (decoupled weight decay) is in adamw.h.
#pragma once
#include <array>

#include "optim/optimizer.h"

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

// Shared by Adam and AdamW (adam.cpp): creates step/exp_avg/exp_avg_sq(/max_exp_avg_sq) on first
// use; then updates the moments and takes the bias-corrected step (step already incremented).
void init_adam_state(StateDict& st, const Tensor& p, bool amsgrad);
void adam_moment_step(const Tensor& p, const Tensor& grad, StateDict& st, double lr, const std::array<double, 2>& betas,
                      double eps, bool amsgrad);

// Checks shared by the Adam family: lr, eps, weight_decay >= 0 and betas in [0, 1).
void check_adam_like(const char* name, double lr, const std::array<double, 2>& betas, double eps, double weight_decay);

}  // namespace atto::optim
