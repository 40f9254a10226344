// optim/adadelta.h -- Adadelta ("ADADELTA: An Adaptive Learning Rate Method"), torch.optim.Adadelta.
// Twin: adadelta.cpp (the update equations).
#pragma once
#include "optim/optimizer.h"

namespace atto::optim {

struct AdadeltaOptions {
  static constexpr const char* kName = "Adadelta";
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("rho", rho), f("eps", eps), f("weight_decay", weight_decay), f("maximize", maximize);
  }
};

// State: step, square_avg, acc_delta.
class Adadelta : public OptimizerBase<AdadeltaOptions> {
 public:
  using OptimizerBase::OptimizerBase;

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
