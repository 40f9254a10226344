// optim/adamw.h -- AdamW: Adam with decoupled weight decay ("Decoupled Weight Decay
// Regularization"), torch.optim.AdamW. Twin: adamw.cpp (the update equations).
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace atto::optim {

struct AdamWOptions {
  static constexpr const char* kName = "AdamW";
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("eps", eps), f("weight_decay", weight_decay);
    f("amsgrad", amsgrad), f("maximize", maximize);
  }
};

// State: step (0-d float32), exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad).
class AdamW : public OptimizerBase<AdamWOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
