// optim/lr_scheduler.h -- learning-rate schedulers: torch.optim.lr_scheduler with the same values
// (the recursive "chainable" forms PyTorch's step() uses). Twin: lr_scheduler.cpp.
//
//   SGD opt(params, {.lr = 0.1});
//   StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
//   for (epoch...) { train(opt); sched.step(); }   // after the optimizer's step, as in PyTorch
//
// A scheduler sets each group's "lr" (Optimizer::set_lr) and keeps its base values in the group's
// extra keys as PyTorch does ("initial_lr"; OneCycleLR also "max_lr", "min_lr", "max_momentum",
// "base_momentum"), so they travel in the optimizer's state_dict. A scheduler's own state_dict is a
// flat name -> number map (last_epoch, _step_count, base_lrs.<i>, _last_lr.<i>, ...).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace atto::optim {

using SchedulerStateDict = std::map<std::string, double>;

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets the optimizer's learning rates.
  virtual void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return optimizer_; }
  const std::string& name() const { return name_; }

  virtual SchedulerStateDict state_dict() const;
  virtual void load_state_dict(const SchedulerStateDict& state);

 protected:
  // last_epoch = -1 starts fresh (each group's "initial_lr" defaults to its lr); another value resumes
  // and needs "initial_lr" in every group. Derived constructors end with initial_step().
  LRScheduler(std::string name, Optimizer& optimizer, int64_t last_epoch);
  void initial_step();
  // PyTorch's step(epoch): jumps to `epoch`, through the closed form where the scheduler has one.
  void step_to(int64_t epoch);
  // The chainable form: the new lr of every group, from the current ones.
  virtual std::vector<double> get_lr() = 0;
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  void set_lrs(const std::vector<double>& lrs);
  std::vector<double> group_lrs() const;

  std::string name_;
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_;
  int64_t step_count_ = 0;

  friend class SequentialLR;
};

// lr = initial_lr * lambda(epoch); one lambda for all groups or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch = -1);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

// lr = lr * lambda(epoch) at every epoch after the first.
class MultiplicativeLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  MultiplicativeLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch = -1);
  MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

// lr = lr * gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = lr * gamma^(times the epoch appears in milestones) at each milestone.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  std::vector<int64_t> milestones_;   // sorted, repeats kept
  double gamma_;
};

// lr = initial_lr * factor until epoch total_iters, then initial_lr.
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3, int64_t total_iters = 5, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double factor_;
  int64_t total_iters_;
};

// The factor goes linearly from start_factor to end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5,
           int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

// lr = lr * gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double gamma_;
};

// lr = initial_lr * (1 - epoch / total_iters)^power, then constant.
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(Optimizer& optimizer, int64_t total_iters = 5, double power = 1.0, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t total_iters_;
  double power_;
};

// lr = eta_min + (initial_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, through PyTorch's recursive
// form (which keeps cycling past T_max and follows lr changes made by others).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// SGDR: cosine annealing restarted every T_i epochs, T_0 first, then T_i * T_mult.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult = 1, double eta_min = 0,
                              int64_t last_epoch = -1);
  void step() override;
  // A fractional epoch is fine: step(epoch + i / iters_per_epoch) inside an epoch.
  void step(double epoch);
  SchedulerStateDict state_dict() const override;
  void load_state_dict(const SchedulerStateDict& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  void step_impl(std::optional<double> epoch);
  int64_t T_0_, T_mult_;
  double T_i_, T_cur_;
  double eta_min_;
};

struct OneCycleLROptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";   // "cos" or "linear"
  bool cycle_momentum = true;            // needs an optimizer with "momentum" or "betas"
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

// The 1cycle policy: lr from max_lr / div_factor up to max_lr over pct_start of total_steps, then down
// to initial_lr / final_div_factor (three_phase: back to initial_lr first); momentum (or beta1) goes
// the opposite way between max_momentum and base_momentum. max_lrs: one value or one per group.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps, OneCycleLROptions options = {},
             int64_t last_epoch = -1);
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, OneCycleLROptions options = {},
             int64_t last_epoch = -1)
      : OneCycleLR(optimizer, std::vector<double>{max_lr}, total_steps, std::move(options), last_epoch) {}

 protected:
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    const char *start_lr, *end_lr, *start_momentum, *end_momentum;
  };
  double anneal(double start, double end, double pct) const;
  int64_t total_steps_;
  OneCycleLROptions options_;
  std::vector<Phase> phases_;
  bool use_beta1_ = false;
};

// Runs schedulers one after another: schedulers[i] from milestones[i - 1] on.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones, int64_t last_epoch = -1);
  void step() override;
  SchedulerStateDict state_dict() const override;
  void load_state_dict(const SchedulerStateDict& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

struct ReduceLROnPlateauOptions {
  std::string mode = "min";            // "min": the metric should fall; "max": rise
  double factor = 0.1;                 // new lr = lr * factor
  int64_t patience = 10;               // epochs without improvement before reducing
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // "rel": better than best * (1 -/+ threshold); "abs": best -/+ threshold
  int64_t cooldown = 0;                // epochs to wait after a reduction
  std::vector<double> min_lr = {0};    // one value or one per group
  double eps = 1e-8;                   // smaller changes than eps are skipped
};

// Reduces the lr when a metric stops improving. Not an LRScheduler (it needs the metric), as in PyTorch.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  void step(double metric);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  SchedulerStateDict state_dict() const;
  void load_state_dict(const SchedulerStateDict& state);

 private:
  bool is_better(double a, double best) const;
  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace atto::optim
