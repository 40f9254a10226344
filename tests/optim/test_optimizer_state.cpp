// tests/optim/test_optimizer_state.cpp -- the Optimizer base: named per-parameter state,
// state_dict/load_state_dict (bitwise resume, mismatch errors), options by name, step hooks.
#include "optim_test_util.h"

using namespace atto;
using namespace atto::optim;
using namespace atto::testing::optim_util;

namespace {

std::vector<std::string> state_names(const Optimizer& opt, const Tensor& p) { return opt.state(p).keys(); }

// 10 steps, state_dict, a fresh optimizer on copies of the parameters loads it, 10 more steps: the
// parameters equal those of 20 straight steps bit for bit.
void check_resume(const MakeOptimizer& make) {
  std::vector<Tensor> straight = fresh_params();
  std::unique_ptr<Optimizer> a = make(straight);
  trajectory(*a, straight, 20);

  std::vector<Tensor> first = fresh_params();
  std::unique_ptr<Optimizer> b = make(first);
  trajectory(*b, first, 10);
  OptimizerStateDict sd = b->state_dict();

  std::vector<Tensor> resumed;
  for (const Tensor& p : first) {
    Tensor c = p.detach().clone();
    c.requires_grad_(true);
    resumed.push_back(c);
  }
  std::unique_ptr<Optimizer> c = make(resumed);
  c->load_state_dict(sd);
  trajectory(*c, resumed, 10);
  CHECK(flat(resumed).to_vector<double>() == flat(straight).to_vector<double>());
}

}  // namespace

TEST_CASE("optim state names are PyTorch's") {
  std::vector<Tensor> ps = fresh_params();
  auto names_after_steps = [&](Optimizer& opt, int steps = 3) {
    for (int i = 0; i < steps; ++i) train_step(opt, ps);
    return state_names(opt, ps[0]);
  };
  using V = std::vector<std::string>;
  {
    SGD opt(ps, {.lr = 0.01});
    CHECK(names_after_steps(opt).empty());
  }
  {
    SGD opt(ps, {.lr = 0.01, .momentum = 0.9});
    CHECK(names_after_steps(opt) == V{"momentum_buffer"});
  }
  {
    Adam opt(ps, {.amsgrad = true});
    CHECK(names_after_steps(opt) == V{"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
    CHECK(opt.state(ps[0], "step").item_double() == 3.0);
    CHECK(opt.state(ps[0], "step").dtype() == kFloat32);
    CHECK(opt.state(ps[1], "exp_avg").shape() == ps[1].shape());
  }
  {
    AdamW opt(ps, {});
    CHECK(names_after_steps(opt) == V{"step", "exp_avg", "exp_avg_sq"});
  }
  {
    RMSprop opt(ps, {.momentum = 0.9, .centered = true});
    CHECK(names_after_steps(opt) == V{"step", "square_avg", "momentum_buffer", "grad_avg"});
  }
  {
    Adagrad opt(ps, {});
    CHECK(state_names(opt, ps[0]) == V{"step", "sum"});   // made at construction, as PyTorch
    CHECK(names_after_steps(opt) == V{"step", "sum"});
  }
  {
    Adadelta opt(ps, {});
    CHECK(names_after_steps(opt) == V{"step", "square_avg", "acc_delta"});
  }
  {
    Adamax opt(ps, {});
    CHECK(names_after_steps(opt) == V{"step", "exp_avg", "exp_inf"});
  }
  {
    NAdam opt(ps, {});
    CHECK(names_after_steps(opt) == V{"step", "mu_product", "exp_avg", "exp_avg_sq"});
  }
  {
    RAdam opt(ps, {});
    CHECK(names_after_steps(opt) == V{"step", "exp_avg", "exp_avg_sq"});
  }
  {
    Lion opt(ps, {});
    CHECK(names_after_steps(opt) == V{"exp_avg"});
    CHECK(throws_with([&] { opt.state(ps[0], "exp_avg_sq"); }, {"[Lion]", "exp_avg_sq", "exp_avg"}));
  }
}

TEST_CASE("optim state tensors are live: exp_avg is Adam's first moment") {
  // After one Adam step, exp_avg = (1 - beta1) * grad.
  std::vector<Tensor> ps = fresh_params();
  Adam opt(ps, {.betas = {0.8, 0.999}});
  opt.zero_grad();
  mlp_loss(ps).backward();
  Tensor g = ps[2].grad().clone();
  opt.step();
  CHECK_ALLCLOSE(opt.state(ps[2], "exp_avg"), mul(g, 1 - 0.8), 1e-15, 0.0);
}

TEST_CASE("optim state_dict round trip resumes bitwise") {
  check_resume(
      [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}); });
  check_resume([](auto ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01, .amsgrad = true}); });
  check_resume([](auto ps) { return std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.01}); });
  check_resume([](auto ps) {
    return std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true});
  });
  check_resume([](auto ps) { return std::make_unique<Adagrad>(ps, AdagradOptions{.lr = 0.1, .lr_decay = 0.01}); });
  check_resume([](auto ps) { return std::make_unique<Adadelta>(ps); });
  check_resume([](auto ps) { return std::make_unique<Adamax>(ps, AdamaxOptions{.lr = 0.01}); });
  check_resume([](auto ps) { return std::make_unique<NAdam>(ps, NAdamOptions{.lr = 0.01}); });
  check_resume([](auto ps) { return std::make_unique<RAdam>(ps, RAdamOptions{.lr = 0.01}); });
  check_resume([](auto ps) { return std::make_unique<Lion>(ps, LionOptions{.lr = 1e-3}); });
  // Groups, and options changed before saving (the lr travels in the state dict).
  check_resume([](std::vector<Tensor> ps) -> std::unique_ptr<Optimizer> {
    std::vector<ParamGroup<AdamOptions>> gs{{{ps[0], ps[1]}, {.lr = 0.02}}, {{ps[2], ps[3]}, {.amsgrad = true}}};
    return std::make_unique<Adam>(std::move(gs), AdamOptions{});
  });
}

TEST_CASE("optim state_dict layout: indexed names and group options") {
  std::vector<Tensor> ps = fresh_params();
  std::vector<ParamGroup<AdamOptions>> gs{{{ps[0], ps[1]}, {.lr = 0.02}}, {{ps[2], ps[3]}, {.amsgrad = true}}};
  Adam opt(std::move(gs), {});
  opt.set_option(1, "initial_lr", 0.5);
  train_step(opt, ps);
  OptimizerStateDict sd = opt.state_dict();
  REQUIRE(sd.param_groups.size() == 2);
  CHECK(sd.param_groups[0].params == std::vector<int64_t>{0, 1});
  CHECK(sd.param_groups[1].params == std::vector<int64_t>{2, 3});
  CHECK(std::get<double>(sd.param_groups[0].options.at("lr")) == 0.02);
  CHECK(std::get<double>(sd.param_groups[1].options.at("amsgrad")) == 1.0);
  CHECK(std::get<double>(sd.param_groups[1].options.at("betas.1")) == 0.999);
  CHECK(std::get<double>(sd.param_groups[1].options.at("initial_lr")) == 0.5);
  CHECK(sd.state.contains("0.exp_avg"));
  CHECK(sd.state.contains("3.max_exp_avg_sq"));
  CHECK_FALSE(sd.state.contains("0.max_exp_avg_sq"));
  CHECK(sd.state.at("2.step").item_double() == 1.0);
  // Loading copies: stepping the loaded optimizer leaves the dict's tensors alone.
  std::vector<Tensor> ps2 = fresh_params();
  std::vector<ParamGroup<AdamOptions>> gs2{{{ps2[0], ps2[1]}, {}}, {{ps2[2], ps2[3]}, {}}};
  Adam opt2(std::move(gs2), {});
  opt2.load_state_dict(sd);
  CHECK(opt2.lr(0) == 0.02);
  CHECK(opt2.get_option(1, "amsgrad") == 1.0);
  CHECK(opt2.get_option(1, "initial_lr") == 0.5);
  const std::vector<double> saved = sd.state.at("0.exp_avg").to_vector<double>();
  train_step(opt2, ps2);
  CHECK(sd.state.at("0.exp_avg").to_vector<double>() == saved);
  CHECK(opt2.state(ps2[0], "step").item_double() == 2.0);
}

TEST_CASE("optim load_state_dict mismatches give clear errors") {
  std::vector<Tensor> ps = fresh_params();
  Adam opt(ps, {});
  train_step(opt, ps);
  OptimizerStateDict sd = opt.state_dict();

  std::vector<Tensor> fewer = fresh_params();
  fewer.pop_back();
  Adam opt_fewer(fewer, {});
  CHECK(throws_with([&] { opt_fewer.load_state_dict(sd); }, {"[Adam]", "load_state_dict", "4", "3"}));

  std::vector<Tensor> other = fresh_params();
  Tensor wide = zeros({4, 5}, {.dtype = kFloat64});
  wide.requires_grad_(true);
  other[0] = wide;
  Adam opt_shape(other, {});
  std::string msg;
  CHECK(throws_with([&] { opt_shape.load_state_dict(sd); }, {"[Adam]", "[4, 3]", "[4, 5]"}, &msg));
  CHECK(opt_shape.state(other[0]).empty());   // unchanged

  std::vector<Tensor> more = fresh_params();
  std::vector<ParamGroup<AdamOptions>> gs{{{more[0], more[1]}, {}}, {{more[2], more[3]}, {}}};
  Adam opt_groups(std::move(gs), {});
  CHECK(throws_with([&] { opt_groups.load_state_dict(sd); }, {"[Adam]", "param groups", "1", "2"}));

  OptimizerStateDict bad = sd;
  bad.param_groups[0].options["lr"] = -1.0;
  Adam opt_bad(fresh_params(), {.lr = 0.5});
  CHECK(throws_with([&] { opt_bad.load_state_dict(bad); }, {"[Adam]", "-1"}));
  CHECK(opt_bad.lr(0) == 0.5);   // unchanged
}

TEST_CASE("optim options by name and lr per group") {
  std::vector<Tensor> ps = fresh_params();
  std::vector<ParamGroup<SGDOptions>> gs{{{ps[0], ps[1]}, {.lr = 0.1, .momentum = 0.9}},
                                         {{ps[2], ps[3]}, {.lr = 0.01}}};
  SGD opt(std::move(gs), {.lr = 0.01});
  CHECK(opt.num_param_groups() == 2);
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.01);
  opt.set_lr(1, 0.5);
  CHECK(opt.param_groups()[1].options.lr == 0.5);
  CHECK(opt.get_option(0, "momentum") == 0.9);
  CHECK(opt.get_option(0, "nesterov") == 0.0);
  CHECK(opt.has_option(0, "dampening"));
  CHECK_FALSE(opt.has_option(0, "betas.0"));
  CHECK(throws_with([&] { opt.get_option(0, "betas.0"); }, {"[SGD]", "betas.0"}));
  CHECK(throws_with([&] { opt.lr(2); }, {"[SGD]", "group 2"}));
  opt.add_param_group(std::vector<Tensor>{zeros({2}, {.dtype = kFloat64, .requires_grad = true})});
  CHECK(opt.lr(2) == 0.01);   // the defaults
  LBFGS lbfgs({ps[0]}, {});
  CHECK(lbfgs.get_option(0, "max_eval") == 25.0);   // max_iter * 5 / 4
  CHECK(std::get<std::string>(lbfgs.get_option_value(0, "line_search_fn")).empty());
}

TEST_CASE("optim step post hooks run after every step and can be removed") {
  std::vector<Tensor> ps = fresh_params();
  SGD opt(ps, {.lr = 0.1});
  int calls = 0;
  double seen_w = 0;
  size_t h = opt.register_step_post_hook([&](Optimizer& o) {
    ++calls;
    seen_w = ps[3].at({0});   // the parameters are already updated
    CHECK(&o == &opt);
  });
  train_step(opt, ps);
  CHECK(calls == 1);
  CHECK(seen_w == ps[3].at({0}));
  train_step(opt, ps);
  CHECK(calls == 2);
  opt.remove_step_post_hook(h);
  train_step(opt, ps);
  CHECK(calls == 2);
}
