// optim/lbfgs.h -- L-BFGS with an optional strong-Wolfe line search: torch.optim.LBFGS (itself after
// minFunc). Twin: lbfgs.cpp (the algorithm, ported from torch/optim/lbfgs.py).
//
//   LBFGS opt({x}, {.line_search_fn = "strong_wolfe"});
//   opt.step([&] { opt.zero_grad(); Tensor loss = f(x); loss.backward(); return loss; });
//
// step(closure) runs up to max_iter iterations, evaluating the closure (with grad mode on) up to
// max_eval times, and returns the loss of its first evaluation. One parameter group only.
#pragma once
#include <string>

#include "optim/optimizer.h"

namespace atto::optim {

struct LBFGSOptions {
  static constexpr const char* kName = "LBFGS";
  double lr = 1;
  int64_t max_iter = 20;
  int64_t max_eval = 0;             // 0 means max_iter * 5 / 4 (PyTorch's None), set at construction
  double tolerance_grad = 1e-7;
  double tolerance_change = 1e-9;
  int64_t history_size = 100;
  std::string line_search_fn = "";  // "" (none: fixed steps of lr) or "strong_wolfe"

  void validate() const;
  template <class F> void fields(F&& f) {
    f("lr", lr), f("max_iter", max_iter), f("max_eval", max_eval), f("tolerance_grad", tolerance_grad);
    f("tolerance_change", tolerance_change), f("history_size", history_size), f("line_search_fn", line_search_fn);
  }
};

// State (on the first parameter, as PyTorch): func_evals, n_iter, d, t, old_dirs.<i>, old_stps.<i>,
// ro.<i>, H_diag, prev_flat_grad, prev_loss -- the flat direction and history over all parameters.
class LBFGS : public OptimizerBase<LBFGSOptions> {
 public:
  LBFGS(std::vector<Tensor> params, LBFGSOptions options = {});

  using Optimizer::step;   // step() without a closure is an error
  Tensor step(const std::function<Tensor()>& closure) override;
  // LBFGS has one group: adding another is an error.
  void add_param_group(Group group);

 protected:
  void update_group(size_t group) override;
  void check_loaded_state(const Tensor& param, const std::string& name, const Tensor& value) const override;

 private:
  Tensor run(const std::function<Tensor()>& closure);   // step's body, with grad mode off
  int64_t numel() const;
  Tensor gather_flat_grad() const;
  void add_grad(double step_size, const Tensor& update);
  std::pair<double, Tensor> directional_evaluate(const std::function<Tensor()>& closure, const std::vector<Tensor>& x,
                                                 double t, const Tensor& d);
};

}  // namespace atto::optim
