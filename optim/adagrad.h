// optim/adagrad.h -- Adagrad with lr decay, weight decay, an initial accumulator, maximize:
// torch.optim.Adagrad. Twin: adagrad.cpp (the update equations).
#pragma once
#include "optim/optimizer.h"

namespace atto::optim {

struct AdagradOptions {
  static constexpr const char* kName = "Adagrad";
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("lr_decay", lr_decay), f("weight_decay", weight_decay);
    f("initial_accumulator_value", initial_accumulator_value), f("eps", eps), f("maximize", maximize);
  }
};

// State: step, sum. Like PyTorch, the state of every parameter exists from construction.
class Adagrad : public OptimizerBase<AdagradOptions> {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  Adagrad(std::vector<Group> groups, AdagradOptions defaults = {});
  void add_param_group(Group group);
  void add_param_group(std::vector<Tensor> params) { add_param_group(Group{std::move(params), defaults_}); }

 protected:
  void update_group(size_t group) override;
};

}  // namespace atto::optim
