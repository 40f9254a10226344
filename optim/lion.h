// optim/lion.h -- Lion, "EvoLved Sign Momentum" from "Symbolic Discovery of Optimization
// Algorithms" (Chen et al. 2023); not in PyTorch: the update follows the paper's Program 1 and the
// lion-pytorch reference. Twin: lion.cpp (the update equations).
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace atto::optim {

struct LionOptions {
  static constexpr const char* kName = "Lion";
  double lr = 1e-4;
  std::array<double, 2> betas = {0.9, 0.99};
  double weight_decay = 0;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
};

// State: exp_avg.
class Lion : public OptimizerBase<LionOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
