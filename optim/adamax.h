// optim/adamax.h -- Adamax, Adam with the infinity norm (Adam paper, section 7.1):
// torch.optim.Adamax. Twin: adamax.cpp (the update equations).
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace atto::optim {

struct AdamaxOptions {
  static constexpr const char* kName = "Adamax";
  double lr = 2e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("betas.0", betas[0]), f("betas.1", betas[1]), f("eps", eps), f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
};

// State: step (0-d float32), exp_avg, exp_inf.
class Adamax : public OptimizerBase<AdamaxOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
