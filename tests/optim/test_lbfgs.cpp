// tests/optim/test_lbfgs.cpp -- LBFGS against PyTorch: Rosenbrock with fixed steps and with the
// strong-Wolfe line search (a short history too), the MLP (several parameters); the returned losses
// and the evaluation counts; resuming from a state dict; errors.
#include "optim_test_util.h"
#include "reference/optim_lbfgs.h"

using namespace atto;
using namespace atto::optim;
using namespace atto::testing::optim_util;
namespace L = ref::optim_lbfgs;

namespace {

Tensor rosenbrock(const std::vector<Tensor>& ps) {
  Tensor x0 = ps[0].select(0, 0), x1 = ps[0].select(0, 1);
  return add(pow(sub(1.0, x0), 2.0), mul(100.0, pow(sub(x1, pow(x0, 2.0)), 2.0)));
}

struct Run {
  Tensor traj, losses, evals;
};

Run run_lbfgs(std::vector<Tensor> ps, const std::function<Tensor(const std::vector<Tensor>&)>& loss_fn, int steps,
              LBFGSOptions options) {
  LBFGS opt(ps, options);
  auto closure = [&] {
    opt.zero_grad();
    Tensor loss = loss_fn(ps);
    loss.backward();
    return loss;
  };
  std::vector<Tensor> rows;
  std::vector<double> losses, evals;
  for (int i = 0; i < steps; ++i) {
    losses.push_back(opt.step(closure).item_double());
    rows.push_back(flat(ps));
    evals.push_back(opt.state(ps[0], "func_evals").item_double());
    evals.push_back(opt.state(ps[0], "n_iter").item_double());
  }
  return {stack(rows), from_vector<double>(losses), from_vector<double>(evals, Shape{steps, 2})};
}

std::vector<Tensor> rosen_params() {
  Tensor x = L::rosen_start.tensor();
  x.requires_grad_(true);
  return {x};
}

void check_run(const Run& r, const RefTensor& traj, const RefTensor& loss, const RefTensor& evals) {
  CHECK_ALLCLOSE(r.traj, traj.values, 1e-6, 1e-12);
  CHECK_ALLCLOSE(r.losses, loss.values, 1e-6, 1e-12);
  CHECK(r.evals.to_vector<double>() == evals.values);
}

}  // namespace

TEST_CASE("optim LBFGS Rosenbrock without line search matches PyTorch") {
  check_run(run_lbfgs(rosen_params(), rosenbrock, 6, {.lr = 0.1, .max_iter = 5}), L::rosen_plain_traj,
            L::rosen_plain_loss, L::rosen_plain_evals);
}

TEST_CASE("optim LBFGS Rosenbrock with strong_wolfe matches PyTorch") {
  check_run(run_lbfgs(rosen_params(), rosenbrock, 6, {.max_iter = 5, .line_search_fn = "strong_wolfe"}),
            L::rosen_wolfe_traj, L::rosen_wolfe_loss, L::rosen_wolfe_evals);
  check_run(run_lbfgs(rosen_params(), rosenbrock, 5,
                      {.max_iter = 8, .history_size = 3, .line_search_fn = "strong_wolfe"}),
            L::rosen_wolfe_history_traj, L::rosen_wolfe_history_loss, L::rosen_wolfe_history_evals);
}

TEST_CASE("optim LBFGS defaults with strong_wolfe converge on Rosenbrock like PyTorch") {
  Run r = run_lbfgs(rosen_params(), rosenbrock, 3, {.line_search_fn = "strong_wolfe"});
  check_run(r, L::rosen_default_traj, L::rosen_default_loss, L::rosen_default_evals);
  CHECK(std::abs(r.traj.at({2, 0}) - 1.0) < 1e-3);
  CHECK(std::abs(r.traj.at({2, 1}) - 1.0) < 1e-3);
}

TEST_CASE("optim LBFGS on a multi-parameter MLP matches PyTorch") {
  check_run(run_lbfgs(fresh_params(), mlp_loss, 3, {.max_iter = 10, .line_search_fn = "strong_wolfe"}),
            L::mlp_wolfe_traj, L::mlp_wolfe_loss, L::mlp_wolfe_evals);
  check_run(run_lbfgs(fresh_params(), mlp_loss, 3, {.lr = 0.5, .max_iter = 6, .history_size = 4}), L::mlp_plain_traj,
            L::mlp_plain_loss, L::mlp_plain_evals);
}

TEST_CASE("optim LBFGS state_dict round trip resumes bitwise") {
  const LBFGSOptions o{.max_iter = 4, .history_size = 3, .line_search_fn = "strong_wolfe"};
  auto closure_for = [](LBFGS& opt, const std::vector<Tensor>& ps) {
    return [&opt, ps] {
      opt.zero_grad();
      Tensor loss = mlp_loss(ps);
      loss.backward();
      return loss;
    };
  };
  std::vector<Tensor> straight = fresh_params();
  LBFGS a(straight, o);
  for (int i = 0; i < 4; ++i) a.step(closure_for(a, straight));

  std::vector<Tensor> first = fresh_params();
  LBFGS b(first, o);
  for (int i = 0; i < 2; ++i) b.step(closure_for(b, first));
  OptimizerStateDict sd = b.state_dict();
  CHECK(sd.state.contains("0.old_dirs.0"));
  CHECK(sd.state.contains("0.prev_flat_grad"));
  std::vector<Tensor> resumed;
  for (const Tensor& p : first) {
    Tensor c = p.detach().clone();
    c.requires_grad_(true);
    resumed.push_back(c);
  }
  LBFGS c(resumed, o);
  c.load_state_dict(sd);
  for (int i = 0; i < 2; ++i) c.step(closure_for(c, resumed));
  CHECK(flat(resumed).to_vector<double>() == flat(straight).to_vector<double>());
}

TEST_CASE("optim LBFGS errors") {
  using testing::optim_util::throws_with;
  std::vector<Tensor> ps = fresh_params();
  LBFGS opt(ps, {});
  CHECK(throws_with([&] { opt.step(); }, {"[LBFGS]", "closure"}));
  CHECK(throws_with([&] { opt.add_param_group({{zeros({2}, {.dtype = kFloat64, .requires_grad = true})}, {}}); },
                    {"[LBFGS]", "groups"}));
  OptimizerStateDict sd = opt.state_dict();
  sd.state.insert("0.d", zeros({5}, {.dtype = kFloat64}));
  CHECK(throws_with([&] { opt.load_state_dict(sd); }, {"[LBFGS]", "'d'", "26"}));
}
