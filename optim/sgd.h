// optim/sgd.h -- stochastic gradient descent with momentum, dampening, Nesterov, weight decay,
// maximize: torch.optim.SGD. Twin: sgd.cpp (the update equations).
#pragma once
#include <cmath>

#include "optim/optimizer.h"

namespace atto::optim {

struct SGDOptions {
  static constexpr const char* kName = "SGD";
  double lr = NAN;   // required, as in PyTorch (which has no default)
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("momentum", momentum), f("dampening", dampening), f("weight_decay", weight_decay);
    f("nesterov", nesterov), f("maximize", maximize);
  }
};

// State: momentum_buffer (when momentum != 0).
class SGD : public OptimizerBase<SGDOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
