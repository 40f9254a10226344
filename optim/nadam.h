// optim/nadam.h -- NAdam, Adam with Nesterov momentum ("Incorporating Nesterov Momentum into
// Adam"), torch.optim.NAdam. Twin: nadam.cpp (the update equations).
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace atto::optim {

struct NAdamOptions {
  static constexpr const char* kName = "NAdam";
  double lr = 2e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum_decay = 4e-3;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("eps", eps), f("weight_decay", weight_decay);
    f("momentum_decay", momentum_decay);
  }
};

// State: step (0-d float32), mu_product (0-d float32, multiplied in float32 as PyTorch does),
// exp_avg, exp_avg_sq.
class NAdam : public OptimizerBase<NAdamOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
