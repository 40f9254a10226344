// tests/optim/optim_test_util.h -- the small float64 MLP the optimizer tests train (the same model
// as tools/gen_ref_optim.py: tanh hidden layer, MSE loss), and trajectory helpers.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reference/optim.h"
#include "test_util.h"

namespace atto::testing::optim_util {

inline std::vector<Tensor> fresh_params(DType dtype = kFloat64) {
  std::vector<Tensor> ps;
  for (const RefTensor* r : {&ref::optim::init0, &ref::optim::init1, &ref::optim::init2, &ref::optim::init3}) {
    Tensor t = r->tensor(dtype);
    t.requires_grad_(true);
    ps.push_back(t);
  }
  return ps;
}

inline Tensor mlp_loss(const std::vector<Tensor>& ps) {
  const DType dt = ps[0].dtype();
  Tensor h = tanh(linear(ref::optim::x.tensor(dt), ps[0], ps[1]));
  return mse_loss(linear(h, ps[2], ps[3]), ref::optim::y.tensor(dt));
}

inline Tensor flat(const std::vector<Tensor>& ps) {
  std::vector<Tensor> parts;
  for (const Tensor& p : ps) parts.push_back(p.detach().reshape({-1}));
  return cat(parts, 0);
}

// One training step: zero_grad, forward, backward, step.
inline void train_step(atto::optim::Optimizer& opt, const std::vector<Tensor>& ps) {
  opt.zero_grad();
  mlp_loss(ps).backward();
  opt.step();
}

// The flat parameters after each of `steps` steps, stacked: [steps, numel].
inline Tensor trajectory(atto::optim::Optimizer& opt, const std::vector<Tensor>& ps, int steps) {
  std::vector<Tensor> rows;
  for (int i = 0; i < steps; ++i) {
    train_step(opt, ps);
    rows.push_back(flat(ps));
  }
  return stack(rows);
}

using MakeOptimizer = std::function<std::unique_ptr<atto::optim::Optimizer>(std::vector<Tensor>)>;

// True when `fn` throws atto::Error whose message contains every one of `parts`.
template <class F> bool throws_with(F&& fn, std::initializer_list<std::string> parts, std::string* msg = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string m = e.what();
    if (msg) *msg = m;
    for (const std::string& p : parts)
      if (m.find(p) == std::string::npos) return false;
    return true;
  }
  return false;
}

}  // namespace atto::testing::optim_util
