// tests/optim/test_lr_scheduler.cpp -- every scheduler's lr sequence over 30 steps against PyTorch's
// (two param groups, lr 0.1 and 0.05), OneCycleLR's momentum/beta1 cycling, ReduceLROnPlateau on a
// fixed metric sequence, scheduler state_dict round trips, errors.
#include <cmath>

#include "reference/optim_sched.h"
#include "test_util.h"

using namespace atto;
using namespace atto::optim;
namespace S = ref::optim_sched;

namespace {

// Two groups as in tools/gen_ref_optim.py's sched_opt: lr 0.1 (momentum 0.9) and lr 0.05.
struct Setup {
  std::vector<Tensor> ps{zeros({2}, {.requires_grad = true}), zeros({3}, {.requires_grad = true})};
  std::unique_ptr<Optimizer> opt;
  explicit Setup(bool adam = false) {
    if (adam)
      opt = std::make_unique<Adam>(
          std::vector<ParamGroup<AdamOptions>>{{{ps[0]}, {.lr = 0.1}}, {{ps[1]}, {.lr = 0.05}}},
          AdamOptions{.lr = 0.1});
    else
      opt = std::make_unique<SGD>(std::vector<ParamGroup<SGDOptions>>{{{ps[0]}, {.lr = 0.1, .momentum = 0.9}},
                                                                      {{ps[1]}, {.lr = 0.05, .momentum = 0.9}}},
                                  SGDOptions{.lr = 0.1, .momentum = 0.9});
  }
  double momentum(size_t g) const {
    return opt->has_option(g, "betas.0") ? opt->get_option(g, "betas.0") : opt->get_option(g, "momentum");
  }
};

struct Sequence {
  std::vector<double> lrs, momenta;
};

template <class Step> Sequence run(Setup& s, const std::vector<double>& first_lr, Step&& step, int steps = 30) {
  Sequence q;
  q.lrs = first_lr;
  for (size_t g = 0; g < 2; ++g) q.momenta.push_back(s.momentum(g));
  for (int i = 0; i < steps; ++i) {
    s.opt->step();
    const std::vector<double> lr = step(i);
    q.lrs.insert(q.lrs.end(), lr.begin(), lr.end());
    for (size_t g = 0; g < 2; ++g) q.momenta.push_back(s.momentum(g));
  }
  return q;
}

Sequence run_scheduler(Setup& s, LRScheduler& sched, int steps = 30) {
  return run(s, sched.get_last_lr(), [&](int) {
    sched.step();
    return sched.get_last_lr();
  }, steps);
}

void check_lrs(const std::vector<double>& got, const RefTensor& expected) {
  CHECK_ALLCLOSE(from_vector<double>(got), expected.values, 1e-12, 1e-15);
}

}  // namespace

// NAME must match the scheduler of the same name in tools/gen_ref_optim.py.
#define SCHED_CASE(NAME, ...)                                          \
  TEST_CASE("optim scheduler lr sequence matches PyTorch: " #NAME) {   \
    Setup s;                                                           \
    Optimizer& o = *s.opt;                                             \
    auto sched = __VA_ARGS__;                                          \
    check_lrs(run_scheduler(s, *sched).lrs, S::NAME##_lr);             \
  }

SCHED_CASE(lambda, std::make_unique<LambdaLR>(o, std::vector<LambdaLR::Lambda>{
                                                     [](int64_t e) { return std::pow(0.95, double(e)); },
                                                     [](int64_t e) { return 1.0 / double(e + 1); }}))
SCHED_CASE(multiplicative, std::make_unique<MultiplicativeLR>(o, [](int64_t e) { return e % 2 ? 0.9 : 0.97; }))
SCHED_CASE(step, std::make_unique<StepLR>(o, 7, 0.5))
SCHED_CASE(multistep, std::make_unique<MultiStepLR>(o, std::vector<int64_t>{5, 12, 12, 20}, 0.3))
SCHED_CASE(constant, std::make_unique<ConstantLR>(o, 0.25, 6))
SCHED_CASE(linear, std::make_unique<LinearLR>(o, 0.25, 1.0, 8))
SCHED_CASE(linear_down, std::make_unique<LinearLR>(o, 1.0, 0.1, 12))
SCHED_CASE(exponential, std::make_unique<ExponentialLR>(o, 0.9))
SCHED_CASE(polynomial, std::make_unique<PolynomialLR>(o, 12, 2.0))
SCHED_CASE(cosine, std::make_unique<CosineAnnealingLR>(o, 10, 0.001))
SCHED_CASE(cosine_long, std::make_unique<CosineAnnealingLR>(o, 40))
SCHED_CASE(warm_restarts, std::make_unique<CosineAnnealingWarmRestarts>(o, 5, 2, 0.01))
SCHED_CASE(warm_restarts_1, std::make_unique<CosineAnnealingWarmRestarts>(o, 7))
SCHED_CASE(onecycle_nomomentum, std::make_unique<OneCycleLR>(o, 0.3, 32, OneCycleLROptions{.cycle_momentum = false}))
SCHED_CASE(seq_warmup_cosine,
           std::make_unique<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{
                                                 std::make_shared<LinearLR>(o, 0.1, 1.0, 5),
                                                 std::make_shared<CosineAnnealingLR>(o, 20, 0.001)},
                                          std::vector<int64_t>{5}))
SCHED_CASE(seq_three, std::make_unique<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{
                                                            std::make_shared<ConstantLR>(o, 0.5, 3),
                                                            std::make_shared<ExponentialLR>(o, 0.9),
                                                            std::make_shared<StepLR>(o, 5, 0.5)},
                                                     std::vector<int64_t>{4, 12}))

TEST_CASE("optim OneCycleLR cycles lr and momentum like PyTorch") {
  struct Case {
    std::vector<double> max_lr;
    int64_t total;
    OneCycleLROptions options;
    const RefTensor &lr, &momentum;
  };
  const Case cases[] = {
      {{0.5, 0.2}, 30, {}, S::onecycle_cos_lr, S::onecycle_cos_momentum},
      {{0.4}, 35, {.pct_start = 0.25, .anneal_strategy = "linear", .div_factor = 10.0, .final_div_factor = 100.0},
       S::onecycle_linear_lr, S::onecycle_linear_momentum},
      {{0.3}, 30, {.base_momentum = 0.8, .max_momentum = 0.9, .three_phase = true}, S::onecycle_three_phase_lr,
       S::onecycle_three_phase_momentum},
  };
  for (const Case& c : cases) {
    Setup s;
    OneCycleLR sched(*s.opt, c.max_lr, c.total, c.options);
    Sequence q = run_scheduler(s, sched);
    check_lrs(q.lrs, c.lr);
    check_lrs(q.momenta, c.momentum);
    CHECK(s.opt->get_option(0, "max_lr") == c.max_lr[0]);
  }
  // Adam: beta1 cycles.
  Setup s(true);
  OneCycleLR sched(*s.opt, 0.01, 30);
  Sequence q = run_scheduler(s, sched);
  check_lrs(q.lrs, S::onecycle_adam_lr);
  check_lrs(q.momenta, S::onecycle_adam_momentum);
  // One step past total_steps is an error.
  Setup t;
  OneCycleLR short_sched(*t.opt, 0.1, 3);
  for (int i = 0; i < 3; ++i) short_sched.step();
  CHECK_THROWS_WITH_AS(short_sched.step(), doctest::Contains("[OneCycleLR]"), atto::Error);
}

TEST_CASE("optim ReduceLROnPlateau matches PyTorch on a metric sequence") {
  struct Case {
    ReduceLROnPlateauOptions options;
    const RefTensor& lr;
  };
  const Case cases[] = {
      {{.mode = "min", .factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1, .min_lr = {0.01}},
       S::plateau_min_rel_lr},
      {{.factor = 0.5, .patience = 1, .threshold = 0.002, .threshold_mode = "abs", .min_lr = {0.02, 0.001}},
       S::plateau_min_abs_lr},
      {{.mode = "max", .factor = 0.3, .patience = 3}, S::plateau_max_rel_lr},
      {{.mode = "max", .factor = 0.7, .patience = 0, .threshold = 0.001, .threshold_mode = "abs", .cooldown = 2},
       S::plateau_max_abs_lr},
  };
  const std::vector<double>& metrics = S::plateau_metrics.values;
  for (const Case& c : cases) {
    Setup s;
    ReduceLROnPlateau sched(*s.opt, c.options);
    Sequence q = run(s, sched.get_last_lr(), [&](int i) {
      sched.step(metrics[size_t(i)]);
      return sched.get_last_lr();
    });
    check_lrs(q.lrs, c.lr);
  }
}

TEST_CASE("optim scheduler state_dict round trip continues the sequence") {
  // seq_warmup_cosine: 10 steps, save optimizer and scheduler, rebuild both, load, 20 more steps.
  auto make = [](Optimizer& o) {
    return std::make_unique<SequentialLR>(
        o,
        std::vector<std::shared_ptr<LRScheduler>>{std::make_shared<LinearLR>(o, 0.1, 1.0, 5),
                                                  std::make_shared<CosineAnnealingLR>(o, 20, 0.001)},
        std::vector<int64_t>{5});
  };
  Setup a;
  auto sched_a = make(*a.opt);
  Sequence first = run_scheduler(a, *sched_a, 10);
  OptimizerStateDict osd = a.opt->state_dict();
  SchedulerStateDict ssd = sched_a->state_dict();
  CHECK(ssd.at("last_epoch") == 10.0);
  CHECK(ssd.count("_schedulers.1.last_epoch") == 1);

  Setup b;
  auto sched_b = make(*b.opt);
  b.opt->load_state_dict(osd);
  sched_b->load_state_dict(ssd);
  Sequence rest = run_scheduler(b, *sched_b, 20);
  std::vector<double> all = first.lrs;
  all.insert(all.end(), rest.lrs.begin() + 2, rest.lrs.end());
  check_lrs(all, S::seq_warmup_cosine_lr);

  // Warm restarts keep T_i and T_cur.
  Setup c;
  CosineAnnealingWarmRestarts wc(*c.opt, 5, 2, 0.01);
  Sequence w1 = run_scheduler(c, wc, 12);
  OptimizerStateDict wosd = c.opt->state_dict();
  SchedulerStateDict wssd = wc.state_dict();
  Setup d;
  CosineAnnealingWarmRestarts wd(*d.opt, 5, 2, 0.01);
  d.opt->load_state_dict(wosd);
  wd.load_state_dict(wssd);
  Sequence w2 = run_scheduler(d, wd, 18);
  std::vector<double> wall = w1.lrs;
  wall.insert(wall.end(), w2.lrs.begin() + 2, w2.lrs.end());
  check_lrs(wall, S::warm_restarts_lr);
}

TEST_CASE("optim schedulers set initial_lr and resume only with it") {
  Setup s;
  StepLR sched(*s.opt, 3);
  CHECK(s.opt->get_option(0, "initial_lr") == 0.1);
  CHECK(s.opt->get_option(1, "initial_lr") == 0.05);
  Setup t;
  CHECK_THROWS_WITH_AS(StepLR(*t.opt, 3, 0.1, 5), doctest::Contains("[StepLR]"), atto::Error);
}

TEST_CASE("optim CosineAnnealingWarmRestarts takes fractional epochs") {
  // lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2 with T_cur = 2.5 inside the first cycle.
  Setup s;
  CosineAnnealingWarmRestarts sched(*s.opt, 10, 1, 0.0);
  sched.step(2.5);
  CHECK(sched.get_last_lr()[0] == doctest::Approx(0.1 * (1 + std::cos(M_PI * 2.5 / 10)) / 2).epsilon(1e-15));
  sched.step(12.5);   // the second cycle: T_cur = 2.5 again
  CHECK(sched.get_last_lr()[0] == doctest::Approx(0.1 * (1 + std::cos(M_PI * 2.5 / 10)) / 2).epsilon(1e-15));
  CHECK(sched.last_epoch() == 12);
}

TEST_CASE("optim scheduler errors name the scheduler") {
  Setup s;
  Optimizer& o = *s.opt;
  CHECK_THROWS_WITH_AS(LambdaLR(o, std::vector<LambdaLR::Lambda>(3, [](int64_t) { return 1.0; })),
                       doctest::Contains("[LambdaLR]"), atto::Error);
  CHECK_THROWS_WITH_AS(LinearLR(o, 1.5), doctest::Contains("[LinearLR]"), atto::Error);
  CHECK_THROWS_WITH_AS(CosineAnnealingWarmRestarts(o, 0), doctest::Contains("[CosineAnnealingWarmRestarts]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(o, 0.1, 10, {.anneal_strategy = "step"}), doctest::Contains("[OneCycleLR]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(ReduceLROnPlateau(o, {.factor = 1.0}), doctest::Contains("[ReduceLROnPlateau]"), atto::Error);
  CHECK_THROWS_WITH_AS(ReduceLROnPlateau(o, {.mode = "up"}), doctest::Contains("[ReduceLROnPlateau]"), atto::Error);
  CHECK_THROWS_WITH_AS(SequentialLR(o, {std::make_shared<StepLR>(o, 2)}, {3}), doctest::Contains("[SequentialLR]"),
                       atto::Error);
  // OneCycleLR's momentum cycling needs momentum or betas.
  std::vector<Tensor> ps{zeros({2}, {.requires_grad = true})};
  Adagrad ada(ps, {});
  CHECK_THROWS_WITH_AS(OneCycleLR(ada, 0.1, 10), doctest::Contains("[OneCycleLR]"), atto::Error);
}
