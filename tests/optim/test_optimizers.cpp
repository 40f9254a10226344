// tests/optim/test_optimizers.cpp -- every optimizer's parameter trajectory over 20 steps on a small
// float64 MLP against PyTorch's (Lion against the float64 reference in tools/gen_ref_optim.py),
// float32 parameters, hyper-parameter errors.
#include "optim_test_util.h"

using namespace atto;
using namespace atto::optim;
using namespace atto::testing::optim_util;
namespace R = ref::optim;

namespace {

// 20 steps from the reference's initial parameters; every step's parameters match to 1e-6 relative.
void check_trajectory(const MakeOptimizer& make, const RefTensor& expected, DType dtype = kFloat64) {
  std::vector<Tensor> ps = fresh_params(dtype);
  std::unique_ptr<Optimizer> opt = make(ps);
  Tensor traj = trajectory(*opt, ps, 20);
  CHECK(traj.shape() == Shape(expected.shape));
  if (dtype == kFloat64) CHECK_ALLCLOSE(traj, expected.values, 1e-6, 1e-12);
  else CHECK_ALLCLOSE(traj, expected.values, 1e-5, 1e-6);
}

template <class Opt, class Options> std::unique_ptr<Optimizer> groups2(const std::vector<Tensor>& ps, Options first,
                                                                       Options rest, Options defaults) {
  std::vector<ParamGroup<Options>> gs{{{ps[0], ps[1]}, first}, {{ps[2], ps[3]}, rest}};
  return std::make_unique<Opt>(std::move(gs), defaults);
}

}  // namespace

// NAME must match the configuration of the same name in tools/gen_ref_optim.py.
#define TRAJ_CASE(NAME, ...)                                                                              \
  TEST_CASE("optim trajectory matches PyTorch: " #NAME) {                                                 \
    check_trajectory([](std::vector<Tensor> ps) -> std::unique_ptr<Optimizer> { return __VA_ARGS__; },    \
                     R::NAME##_traj);                                                                     \
  }

TRAJ_CASE(sgd, std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1}))
TRAJ_CASE(sgd_momentum, std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9}))
TRAJ_CASE(sgd_dampening, std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.3}))
TRAJ_CASE(sgd_nesterov_wd,
          std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}))
TRAJ_CASE(sgd_maximize,
          std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.5, .weight_decay = 0.01, .maximize = true}))
TRAJ_CASE(sgd_groups, groups2<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9}, SGDOptions{.lr = 0.01},
                                   SGDOptions{.lr = 0.01}))
TRAJ_CASE(adam, std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01}))
TRAJ_CASE(adam_amsgrad_wd, std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}))
TRAJ_CASE(adam_maximize,
          std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01, .betas = {0.8, 0.99}, .eps = 1e-6, .maximize = true}))
TRAJ_CASE(adam_groups, groups2<Adam>(ps, AdamOptions{.lr = 0.02}, AdamOptions{.lr = 0.005, .amsgrad = true},
                                     AdamOptions{.lr = 0.005}))
TRAJ_CASE(adamw, std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.01}))
TRAJ_CASE(adamw_amsgrad, std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}))
TRAJ_CASE(adamw_maximize, std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.01, .maximize = true}))
TRAJ_CASE(rmsprop, std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01}))
TRAJ_CASE(rmsprop_centered_momentum,
          std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.01,
                                                       .momentum = 0.9, .centered = true}))
TRAJ_CASE(rmsprop_momentum, std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01, .eps = 1e-6, .momentum = 0.5}))
TRAJ_CASE(rmsprop_centered_maximize,
          std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.005, .centered = true, .maximize = true}))
TRAJ_CASE(adagrad, std::make_unique<Adagrad>(ps, AdagradOptions{.lr = 0.1}))
TRAJ_CASE(adagrad_all, std::make_unique<Adagrad>(ps, AdagradOptions{.lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.01,
                                                                    .initial_accumulator_value = 0.1, .eps = 1e-8}))
TRAJ_CASE(adagrad_maximize, std::make_unique<Adagrad>(ps, AdagradOptions{.lr = 0.05, .maximize = true}))
TRAJ_CASE(adadelta, std::make_unique<Adadelta>(ps))
TRAJ_CASE(adadelta_all,
          std::make_unique<Adadelta>(ps, AdadeltaOptions{.lr = 0.5, .rho = 0.8, .eps = 1e-5, .weight_decay = 0.01}))
TRAJ_CASE(adadelta_maximize, std::make_unique<Adadelta>(ps, AdadeltaOptions{.maximize = true}))
TRAJ_CASE(adamax, std::make_unique<Adamax>(ps, AdamaxOptions{.lr = 0.01}))
TRAJ_CASE(adamax_wd_maximize, std::make_unique<Adamax>(ps, AdamaxOptions{.lr = 0.01, .betas = {0.8, 0.95},
                                                                         .weight_decay = 0.05, .maximize = true}))
TRAJ_CASE(nadam, std::make_unique<NAdam>(ps, NAdamOptions{.lr = 0.01}))
TRAJ_CASE(nadam_wd, std::make_unique<NAdam>(ps, NAdamOptions{.lr = 0.01, .weight_decay = 0.05, .momentum_decay = 0.01}))
TRAJ_CASE(radam, std::make_unique<RAdam>(ps, RAdamOptions{.lr = 0.01}))
TRAJ_CASE(radam_wd, std::make_unique<RAdam>(ps, RAdamOptions{.lr = 0.01, .betas = {0.9, 0.9}, .weight_decay = 0.05}))
TRAJ_CASE(lion, std::make_unique<Lion>(ps, LionOptions{.lr = 1e-3}))
TRAJ_CASE(lion_wd, std::make_unique<Lion>(ps, LionOptions{.lr = 3e-3, .betas = {0.95, 0.98}, .weight_decay = 0.1}))
TRAJ_CASE(lion_maximize, std::make_unique<Lion>(ps, LionOptions{.lr = 1e-3, .maximize = true}))

TEST_CASE("optim float32 parameters match PyTorch's float32 trajectory") {
  check_trajectory([](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9}); },
                   R::sgd_momentum_f32_traj, kFloat32);
  check_trajectory(
      [](auto ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}); },
      R::adam_amsgrad_wd_f32_traj, kFloat32);
  check_trajectory(
      [](auto ps) {
        return std::make_unique<RMSprop>(
            ps, RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.01, .momentum = 0.9, .centered = true});
      },
      R::rmsprop_centered_momentum_f32_traj, kFloat32);
  check_trajectory([](auto ps) { return std::make_unique<NAdam>(ps, NAdamOptions{.lr = 0.01}); }, R::nadam_f32_traj,
                   kFloat32);
  check_trajectory([](auto ps) { return std::make_unique<RAdam>(ps, RAdamOptions{.lr = 0.01}); }, R::radam_f32_traj,
                   kFloat32);
  std::vector<Tensor> ps = fresh_params(kFloat32);
  Adam opt(ps, {.lr = 0.01});
  train_step(opt, ps);
  CHECK(opt.state(ps[0], "exp_avg").dtype() == kFloat32);
}

TEST_CASE("optim a non-contiguous parameter steps like a contiguous one") {
  // w is a transposed (non-contiguous) leaf; the same values as a contiguous leaf must move alike.
  Tensor base = testing::uniform({3, 4}, -1, 1, 7);
  Tensor wt = base.t().detach();
  wt.requires_grad_(true);
  Tensor wc = base.t().contiguous().detach();
  wc.requires_grad_(true);
  CHECK_FALSE(wt.is_contiguous());
  Tensor target = testing::uniform({4, 3}, -1, 1, 8);
  Adam a({wt}, {.lr = 0.1, .amsgrad = true});
  Adam b({wc}, {.lr = 0.1, .amsgrad = true});
  for (int i = 0; i < 5; ++i) {
    for (auto [opt, w] : {std::pair<Adam*, Tensor>{&a, wt}, std::pair<Adam*, Tensor>{&b, wc}}) {
      opt->zero_grad();
      mse_loss(tanh(w), target).backward();
      opt->step();
    }
  }
  CHECK(wt.to_vector<double>() == wc.to_vector<double>());
}

TEST_CASE("optim parameters without a grad are skipped and get no state") {
  std::vector<Tensor> ps = fresh_params();
  Tensor unused = testing::uniform({3}, -1, 1, 3);
  unused.requires_grad_(true);
  const std::vector<double> before = unused.to_vector<double>();
  std::vector<Tensor> all = ps;
  all.push_back(unused);
  SGD sgd(all, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  Adam adam(all, {.lr = 0.1});
  for (Optimizer* opt : {static_cast<Optimizer*>(&sgd), static_cast<Optimizer*>(&adam)}) {
    train_step(*opt, ps);
    CHECK(unused.to_vector<double>() == before);
    CHECK(opt->state(unused).empty());
    CHECK_FALSE(opt->state(ps[0]).empty());
  }
}

TEST_CASE("optim zero_grad sets grads to none or to zeros") {
  std::vector<Tensor> ps = fresh_params();
  SGD opt(ps, {.lr = 0.1});
  mlp_loss(ps).backward();
  opt.zero_grad(false);
  for (const Tensor& p : ps) {
    REQUIRE(p.grad().defined());
    CHECK(sum(abs(p.grad())).item_double() == 0.0);
  }
  opt.zero_grad();
  for (const Tensor& p : ps) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("optim step with a closure returns the loss and steps once") {
  std::vector<Tensor> ps = fresh_params();
  SGD opt(ps, {.lr = 0.1});
  std::vector<Tensor> ps2 = fresh_params();
  SGD opt2(ps2, {.lr = 0.1});
  Tensor loss = opt.step([&] {
    opt.zero_grad();
    Tensor l = mlp_loss(ps);
    l.backward();
    return l;
  });
  CHECK(loss.item_double() == mlp_loss(fresh_params()).item_double());
  train_step(opt2, ps2);
  CHECK(flat(ps).to_vector<double>() == flat(ps2).to_vector<double>());
}

TEST_CASE("optim bad hyper-parameters raise errors naming the optimizer and the value") {
  std::vector<Tensor> ps = fresh_params();
  using testing::optim_util::throws_with;
  std::string msg;
  CHECK(throws_with([&] { SGD(ps, {.lr = -0.5}); }, {"[SGD]", "-0.5"}, &msg));
  CHECK(throws_with([&] { SGD(ps, {}); }, {"[SGD]", "lr is required"}));
  CHECK(throws_with([&] { SGD(ps, {.lr = 0.1, .momentum = -1}); }, {"[SGD]", "momentum", "-1"}));
  CHECK(throws_with([&] { SGD(ps, {.lr = 0.1, .nesterov = true}); }, {"[SGD]", "Nesterov"}));
  CHECK(throws_with([&] { Adam(ps, {.lr = -1e-3}); }, {"[Adam]", "-0.001"}));
  CHECK(throws_with([&] { Adam(ps, {.betas = {1.0, 0.999}}); }, {"[Adam]", "beta", "index 0", "1"}));
  CHECK(throws_with([&] { Adam(ps, {.betas = {0.9, -0.1}}); }, {"[Adam]", "index 1", "-0.1"}));
  CHECK(throws_with([&] { Adam(ps, {.weight_decay = -2}); }, {"[Adam]", "weight_decay", "-2"}));
  CHECK(throws_with([&] { AdamW(ps, {.eps = -1}); }, {"[AdamW]", "epsilon", "-1"}));
  CHECK(throws_with([&] { RMSprop(ps, {.alpha = -0.5}); }, {"[RMSprop]", "alpha", "-0.5"}));
  CHECK(throws_with([&] { Adagrad(ps, {.lr_decay = -1}); }, {"[Adagrad]", "lr_decay", "-1"}));
  CHECK(throws_with([&] { Adadelta(ps, {.rho = 1.5}); }, {"[Adadelta]", "rho", "1.5"}));
  CHECK(throws_with([&] { Adamax(ps, {.betas = {0.9, 1.0}}); }, {"[Adamax]", "index 1"}));
  CHECK(throws_with([&] { NAdam(ps, {.momentum_decay = -1}); }, {"[NAdam]", "momentum_decay", "-1"}));
  CHECK(throws_with([&] { RAdam(ps, {.lr = -3}); }, {"[RAdam]", "-3"}));
  CHECK(throws_with([&] { Lion(ps, {.betas = {1.5, 0.99}}); }, {"[Lion]", "1.5"}));
  CHECK(throws_with([&] { LBFGS(ps, {.history_size = 0}); }, {"[LBFGS]", "history_size"}));
  CHECK(throws_with([&] { LBFGS(ps, {.line_search_fn = "armijo"}); }, {"[LBFGS]", "armijo"}));
  // A parameter twice, a non-leaf, an integer tensor.
  CHECK(throws_with([&] { SGD({ps[0], ps[0]}, {.lr = 0.1}); }, {"[SGD]", "more than once"}));
  CHECK(throws_with([&] { SGD({mul(ps[0], 2.0)}, {.lr = 0.1}); }, {"[SGD]", "non-leaf"}));
  CHECK(throws_with([&] { SGD({arange(3.0, {.dtype = kInt64})}, {.lr = 0.1}); }, {"[SGD]", "floating"}));
  // A bad group added later is rejected too.
  Adam opt({ps[0]}, {});
  CHECK(throws_with([&] { opt.add_param_group({{ps[1]}, {.lr = -1}}); }, {"[Adam]", "-1"}));
  CHECK(opt.num_param_groups() == 1);
}
