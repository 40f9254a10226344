// optim/rmsprop.h -- RMSprop with centering, momentum, weight decay, maximize: torch.optim.RMSprop.
// Twin: rmsprop.cpp (the update equations).
#pragma once
#include "optim/optimizer.h"

namespace atto::optim {

struct RMSpropOptions {
  static constexpr const char* kName = "RMSprop";
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("alpha", alpha), f("eps", eps), f("weight_decay", weight_decay), f("momentum", momentum);
    f("centered", centered), f("maximize", maximize);
  }
};

// State: step, square_avg, momentum_buffer (momentum > 0), grad_avg (centered).
class RMSprop : public OptimizerBase<RMSpropOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
