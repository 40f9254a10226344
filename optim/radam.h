// optim/radam.h -- RAdam, Adam with a rectified adaptive learning rate ("On the Variance of the
// Adaptive Learning Rate and Beyond"), torch.optim.RAdam. Twin: radam.cpp (the update equations).
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace atto::optim {

struct RAdamOptions {
  static constexpr const char* kName = "RAdam";
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("eps", eps), f("weight_decay", weight_decay);
  }
};

// State: step (0-d float32), exp_avg, exp_avg_sq.
class RAdam : public OptimizerBase<RAdamOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
