// optim/lr_scheduler.cpp -- the schedulers, ported from torch/optim/lr_scheduler.py (PyTorch 1.13):
// same branches, same order of floating-point operations. Twin: lr_scheduler.h.
#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace atto::optim {

namespace {
constexpr double kPi = std::numbers::pi;

void put_list(SchedulerStateDict& sd, const std::string& key, const std::vector<double>& v) {
  for (size_t i = 0; i < v.size(); ++i) sd[fmt::format("{}.{}", key, i)] = v[i];
}
std::vector<double> get_list(const SchedulerStateDict& sd, const std::string& key) {
  std::vector<double> v;
  for (size_t i = 0;; ++i) {
    auto it = sd.find(fmt::format("{}.{}", key, i));
    if (it == sd.end()) return v;
    v.push_back(it->second);
  }
}
double get_value(const SchedulerStateDict& sd, const std::string& key, const std::string& who) {
  auto it = sd.find(key);
  ATTO_CHECK(it != sd.end(), "[{}] load_state_dict: no entry '{}'", who, key);
  return it->second;
}
}  // namespace

// ---- base --------------------------------------------------------------------------------------------------

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer, int64_t last_epoch)
    : name_(std::move(name)), optimizer_(optimizer), last_epoch_(last_epoch) {
  for (size_t g = 0; g < optimizer.num_param_groups(); ++g) {
    if (last_epoch == -1) {
      if (!optimizer.has_option(g, "initial_lr")) optimizer.set_option(g, "initial_lr", optimizer.lr(g));
    } else {
      ATTO_CHECK(optimizer.has_option(g, "initial_lr"),
                 "[{}] param 'initial_lr' is not specified in param group {} when resuming (last_epoch = {})", name_, g,
                 last_epoch);
    }
    base_lrs_.push_back(optimizer.get_option(g, "initial_lr"));
  }
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  set_lrs(get_lr());
}

void LRScheduler::step_to(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  std::optional<std::vector<double>> closed = closed_form_lr();
  set_lrs(closed ? *closed : get_lr());
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
  return lrs;
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  for (size_t g = 0; g < lrs.size() && g < optimizer_.num_param_groups(); ++g) optimizer_.set_lr(g, lrs[g]);
  last_lr_ = group_lrs();
}

SchedulerStateDict LRScheduler::state_dict() const {
  SchedulerStateDict sd{{"last_epoch", double(last_epoch_)}, {"_step_count", double(step_count_)}};
  put_list(sd, "base_lrs", base_lrs_);
  put_list(sd, "_last_lr", last_lr_);
  return sd;
}

void LRScheduler::load_state_dict(const SchedulerStateDict& sd) {
  const double last_epoch = get_value(sd, "last_epoch", name_), step_count = get_value(sd, "_step_count", name_);
  std::vector<double> base = get_list(sd, "base_lrs"), last = get_list(sd, "_last_lr");
  ATTO_CHECK(base.size() == optimizer_.num_param_groups(),
             "[{}] load_state_dict: {} base_lrs for an optimizer with {} param groups", name_, base.size(),
             optimizer_.num_param_groups());
  last_epoch_ = int64_t(last_epoch), step_count_ = int64_t(step_count);
  base_lrs_ = std::move(base), last_lr_ = std::move(last);
}

// ---- LambdaLR, MultiplicativeLR ------------------------------------------------------------------------------

namespace {
template <class L> std::vector<L> one_per_group(const char* who, Optimizer& opt, std::vector<L> lambdas) {
  if (lambdas.size() == 1) lambdas.resize(opt.num_param_groups(), lambdas[0]);
  ATTO_CHECK(lambdas.size() == opt.num_param_groups(), "[{}] expected {} lr_lambdas, but got {}", who,
             opt.num_param_groups(), lambdas.size());
  return lambdas;
}
}  // namespace

LambdaLR::LambdaLR(Optimizer& opt, Lambda lr_lambda, int64_t last_epoch)
    : LambdaLR(opt, std::vector<Lambda>{std::move(lr_lambda)}, last_epoch) {}

LambdaLR::LambdaLR(Optimizer& opt, std::vector<Lambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler("LambdaLR", opt, last_epoch), lambdas_(one_per_group("LambdaLR", opt, std::move(lr_lambdas))) {
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(base_lrs_[g] * lambdas_[g](last_epoch_));
  return lrs;
}

MultiplicativeLR::MultiplicativeLR(Optimizer& opt, Lambda lr_lambda, int64_t last_epoch)
    : MultiplicativeLR(opt, std::vector<Lambda>{std::move(lr_lambda)}, last_epoch) {}

MultiplicativeLR::MultiplicativeLR(Optimizer& opt, std::vector<Lambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler("MultiplicativeLR", opt, last_epoch),
      lambdas_(one_per_group("MultiplicativeLR", opt, std::move(lr_lambdas))) {
  initial_step();
}

std::vector<double> MultiplicativeLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ > 0)
    for (size_t g = 0; g < lrs.size(); ++g) lrs[g] = lrs[g] * lambdas_[g](last_epoch_);
  return lrs;
}

// ---- StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR ------------------------------------

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma, int64_t last_epoch)
    : LRScheduler("StepLR", opt, last_epoch), step_size_(step_size), gamma_(gamma) {
  ATTO_CHECK(step_size > 0, "[StepLR] step_size must be positive, got {}", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, double(last_epoch_ / step_size_)));
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma, int64_t last_epoch)
    : LRScheduler("MultiStepLR", opt, last_epoch), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, double(count));
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, double(passed)));
  return lrs;
}

ConstantLR::ConstantLR(Optimizer& opt, double factor, int64_t total_iters, int64_t last_epoch)
    : LRScheduler("ConstantLR", opt, last_epoch), factor_(factor), total_iters_(total_iters) {
  ATTO_CHECK(factor >= 0 && factor <= 1, "[ConstantLR] factor must be in [0, 1], got {}", factor);
  initial_step();
}

std::vector<double> ConstantLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * factor_;
  } else if (last_epoch_ == total_iters_) {
    for (double& lr : lrs) lr = lr * (1.0 / factor_);
  }
  return lrs;
}

std::optional<std::vector<double>> ConstantLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * (factor_ + double(last_epoch_ >= total_iters_) * (1 - factor_)));
  return lrs;
}

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters, int64_t last_epoch)
    : LRScheduler("LinearLR", opt, last_epoch),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  ATTO_CHECK(start_factor >= 0 && start_factor <= 1, "[LinearLR] start_factor must be in [0, 1], got {}",
             start_factor);
  ATTO_CHECK(end_factor >= 0 && end_factor <= 1, "[LinearLR] end_factor must be in [0, 1], got {}", end_factor);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_factor_;
  } else if (last_epoch_ <= total_iters_) {
    const double d = end_factor_ - start_factor_;
    for (double& lr : lrs)
      lr = lr * (1. + d / (double(total_iters_) * start_factor_ + double(last_epoch_ - 1) * d));
  }
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) * double(std::min(total_iters_, last_epoch_)) /
                                              double(total_iters_)));
  return lrs;
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma, int64_t last_epoch)
    : LRScheduler("ExponentialLR", opt, last_epoch), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ != 0)
    for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, double(last_epoch_)));
  return lrs;
}

PolynomialLR::PolynomialLR(Optimizer& opt, int64_t total_iters, double power, int64_t last_epoch)
    : LRScheduler("PolynomialLR", opt, last_epoch), total_iters_(total_iters), power_(power) {
  ATTO_CHECK(total_iters > 0, "[PolynomialLR] total_iters must be positive, got {}", total_iters);
  initial_step();
}

std::vector<double> PolynomialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ > total_iters_) return lrs;
  const double e = double(last_epoch_), n = double(total_iters_);
  const double decay_factor = std::pow((1.0 - e / n) / (1.0 - (e - 1) / n), power_);
  for (double& lr : lrs) lr = lr * decay_factor;
  return lrs;
}

std::optional<std::vector<double>> PolynomialLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base *
                  std::pow(1.0 - double(std::min(total_iters_, last_epoch_)) / double(total_iters_), power_));
  return lrs;
}

// ---- cosine annealing ----------------------------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min, int64_t last_epoch)
    : LRScheduler("CosineAnnealingLR", opt, last_epoch), T_max_(T_max), eta_min_(eta_min) {
  ATTO_CHECK(T_max > 0, "[CosineAnnealingLR] T_max must be positive, got {}", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double e = double(last_epoch_), T = double(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {   // resumed: start from the closed form
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
  } else if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {   // restarting from eta_min
    for (size_t g = 0; g < lrs.size(); ++g) lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * double(last_epoch_) / double(T_max_))) / 2);
  return lrs;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult, double eta_min,
                                                         int64_t last_epoch)
    : LRScheduler("CosineAnnealingWarmRestarts", opt, last_epoch),
      T_0_(T_0),
      T_mult_(T_mult),
      T_i_(double(T_0)),
      T_cur_(double(last_epoch)),
      eta_min_(eta_min) {
  ATTO_CHECK(T_0 > 0, "[CosineAnnealingWarmRestarts] expected positive integer T_0, but got {}", T_0);
  ATTO_CHECK(T_mult >= 1, "[CosineAnnealingWarmRestarts] expected integer T_mult >= 1, but got {}", T_mult);
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * T_cur_ / T_i_)) / 2);
  return lrs;
}

void CosineAnnealingWarmRestarts::step() { step_impl(std::nullopt); }
void CosineAnnealingWarmRestarts::step(double epoch) { step_impl(epoch); }

void CosineAnnealingWarmRestarts::step_impl(std::optional<double> epoch) {
  if (!epoch && last_epoch_ < 0) epoch = 0.0;
  double e;
  if (!epoch) {
    e = double(last_epoch_ + 1);
    T_cur_ = T_cur_ + 1;
    if (T_cur_ >= T_i_) {
      T_cur_ = T_cur_ - T_i_;
      T_i_ = T_i_ * double(T_mult_);
    }
  } else {
    e = *epoch;
    ATTO_CHECK(e >= 0, "[CosineAnnealingWarmRestarts] expected non-negative epoch, but got {}", e);
    if (e >= double(T_0_)) {
      if (T_mult_ == 1) {
        T_cur_ = std::fmod(e, double(T_0_));
      } else {
        const double n = std::floor(std::log(e / double(T_0_) * double(T_mult_ - 1) + 1) / std::log(double(T_mult_)));
        T_cur_ = e - double(T_0_) * (std::pow(double(T_mult_), n) - 1) / double(T_mult_ - 1);
        T_i_ = double(T_0_) * std::pow(double(T_mult_), n);
      }
    } else {
      T_i_ = double(T_0_);
      T_cur_ = e;
    }
  }
  last_epoch_ = int64_t(std::floor(e));
  set_lrs(get_lr());
}

SchedulerStateDict CosineAnnealingWarmRestarts::state_dict() const {
  SchedulerStateDict sd = LRScheduler::state_dict();
  sd["T_i"] = T_i_, sd["T_cur"] = T_cur_;
  return sd;
}

void CosineAnnealingWarmRestarts::load_state_dict(const SchedulerStateDict& sd) {
  const double T_i = get_value(sd, "T_i", name_), T_cur = get_value(sd, "T_cur", name_);
  LRScheduler::load_state_dict(sd);
  T_i_ = T_i, T_cur_ = T_cur;
}

// ---- OneCycleLR ----------------------------------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps, OneCycleLROptions options,
                       int64_t last_epoch)
    : LRScheduler("OneCycleLR", opt, last_epoch), total_steps_(total_steps), options_(std::move(options)) {
  const OneCycleLROptions& o = options_;
  ATTO_CHECK(total_steps > 0, "[OneCycleLR] expected positive integer total_steps, but got {}", total_steps);
  ATTO_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "[OneCycleLR] expected pct_start in [0, 1], but got {}",
             o.pct_start);
  ATTO_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
             "[OneCycleLR] anneal_strategy must be 'cos' or 'linear', got '{}'", o.anneal_strategy);
  const size_t groups = opt.num_param_groups();
  if (max_lrs.size() == 1) max_lrs.resize(groups, max_lrs[0]);
  ATTO_CHECK(max_lrs.size() == groups, "[OneCycleLR] expected {} values for max_lr, got {}", groups, max_lrs.size());
  const double n = double(total_steps);
  if (o.three_phase) {
    phases_ = {{double(o.pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {double(2 * o.pct_start * n) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{double(o.pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  if (last_epoch == -1) {
    for (size_t g = 0; g < groups; ++g) {
      const double initial_lr = max_lrs[g] / o.div_factor;
      opt.set_option(g, "initial_lr", initial_lr);
      opt.set_option(g, "max_lr", max_lrs[g]);
      opt.set_option(g, "min_lr", initial_lr / o.final_div_factor);
    }
  }
  if (o.cycle_momentum) {
    const bool has_momentum = opt.has_option(0, "momentum"), has_betas = opt.has_option(0, "betas.0");
    ATTO_CHECK(has_momentum || has_betas,
               "[OneCycleLR] optimizer {} must support momentum (momentum or betas) with cycle_momentum", opt.name());
    use_beta1_ = has_betas;
    if (last_epoch == -1) {
      for (size_t g = 0; g < groups; ++g) {
        opt.set_option(g, use_beta1_ ? "betas.0" : "momentum", o.max_momentum);
        opt.set_option(g, "max_momentum", o.max_momentum);
        opt.set_option(g, "base_momentum", o.base_momentum);
      }
    }
  }
  base_lrs_.clear();
  for (size_t g = 0; g < groups; ++g) base_lrs_.push_back(opt.get_option(g, "initial_lr"));
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == "cos") {
    const double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch_;
  ATTO_CHECK(step_num <= total_steps_, "[OneCycleLR] tried to step {} times; the specified number of total steps is {}",
             step_num + 1, total_steps_);
  std::vector<double> lrs;
  for (size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& ph = phases_[i];
      if (double(step_num) <= ph.end_step || i == phases_.size() - 1) {
        const double pct = (double(step_num) - start_step) / (ph.end_step - start_step);
        lr = anneal(optimizer_.get_option(g, ph.start_lr), optimizer_.get_option(g, ph.end_lr), pct);
        if (options_.cycle_momentum)
          momentum =
              anneal(optimizer_.get_option(g, ph.start_momentum), optimizer_.get_option(g, ph.end_momentum), pct);
        break;
      }
      start_step = ph.end_step;
    }
    lrs.push_back(lr);
    if (options_.cycle_momentum) optimizer_.set_option(g, use_beta1_ ? "betas.0" : "momentum", momentum);
  }
  return lrs;
}

// ---- SequentialLR ----------------------------------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& opt, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones, int64_t last_epoch)
    : LRScheduler("SequentialLR", opt, last_epoch),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  ATTO_CHECK(!schedulers_.empty(), "[SequentialLR] needs at least one scheduler");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    ATTO_CHECK(schedulers_[i] && &schedulers_[i]->optimizer() == &opt,
               "[SequentialLR] expects all schedulers to belong to the same optimizer, but got scheduler {} with "
               "another one",
               i);
  ATTO_CHECK(milestones_.size() == schedulers_.size() - 1,
             "[SequentialLR] expects one milestone fewer than schedulers, but got {} schedulers and {} milestones",
             schedulers_.size(), milestones_.size());
  last_epoch_ = last_epoch + 1;
  // Reset the learning rates back to their initial values; the first scheduler starts over.
  for (size_t g = 0; g < opt.num_param_groups(); ++g) opt.set_lr(g, opt.get_option(g, "initial_lr"));
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto next = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_);
  const size_t idx = size_t(next - milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    if (auto* warm = dynamic_cast<CosineAnnealingWarmRestarts*>(&s)) warm->step(0.0);
    else s.step_to(0);
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

SchedulerStateDict SequentialLR::state_dict() const {
  SchedulerStateDict sd = LRScheduler::state_dict();
  for (size_t i = 0; i < schedulers_.size(); ++i)
    for (const auto& [k, v] : schedulers_[i]->state_dict()) sd[fmt::format("_schedulers.{}.{}", i, k)] = v;
  return sd;
}

void SequentialLR::load_state_dict(const SchedulerStateDict& sd) {
  std::vector<SchedulerStateDict> children(schedulers_.size());
  SchedulerStateDict own;
  for (const auto& [k, v] : sd) {
    if (k.rfind("_schedulers.", 0) == 0) {
      const std::string rest = k.substr(12);
      const size_t dot = rest.find('.');
      const size_t i = size_t(std::stoul(rest.substr(0, dot)));
      ATTO_CHECK(i < children.size(), "[SequentialLR] load_state_dict: entry '{}' for scheduler {} of {}", k, i,
                 children.size());
      children[i][rest.substr(dot + 1)] = v;
    } else {
      own[k] = v;
    }
  }
  LRScheduler::load_state_dict(own);
  for (size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(children[i]);
}

// ---- ReduceLROnPlateau ---------------------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, ReduceLROnPlateauOptions options)
    : optimizer_(opt), options_(std::move(options)) {
  const ReduceLROnPlateauOptions& o = options_;
  ATTO_CHECK(o.factor < 1.0, "[ReduceLROnPlateau] factor should be < 1.0, got {}", o.factor);
  ATTO_CHECK(o.mode == "min" || o.mode == "max", "[ReduceLROnPlateau] mode '{}' is unknown (want 'min' or 'max')",
             o.mode);
  ATTO_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs",
             "[ReduceLROnPlateau] threshold mode '{}' is unknown (want 'rel' or 'abs')", o.threshold_mode);
  min_lrs_ = o.min_lr;
  if (min_lrs_.size() == 1) min_lrs_.resize(opt.num_param_groups(), min_lrs_[0]);
  ATTO_CHECK(min_lrs_.size() == opt.num_param_groups(), "[ReduceLROnPlateau] expected {} min_lrs, got {}",
             opt.num_param_groups(), o.min_lr.size());
  best_ = o.mode == "min" ? INFINITY : -INFINITY;
  for (size_t g = 0; g < opt.num_param_groups(); ++g) last_lr_.push_back(opt.lr(g));
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const ReduceLROnPlateauOptions& o = options_;
  if (o.mode == "min" && o.threshold_mode == "rel") return a < best * (1. - o.threshold);
  if (o.mode == "min") return a < best - o.threshold;
  if (o.threshold_mode == "rel") return a > best * (o.threshold + 1.);
  return a > best + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;   // ignore any bad epochs in cooldown
  }
  if (num_bad_epochs_ > options_.patience) {
    for (size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[g]);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(g, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (size_t g = 0; g < optimizer_.num_param_groups(); ++g) last_lr_.push_back(optimizer_.lr(g));
}

SchedulerStateDict ReduceLROnPlateau::state_dict() const {
  SchedulerStateDict sd{{"best", best_},
                        {"num_bad_epochs", double(num_bad_epochs_)},
                        {"cooldown_counter", double(cooldown_counter_)},
                        {"last_epoch", double(last_epoch_)}};
  put_list(sd, "_last_lr", last_lr_);
  return sd;
}

void ReduceLROnPlateau::load_state_dict(const SchedulerStateDict& sd) {
  const std::string who = "ReduceLROnPlateau";
  const double best = get_value(sd, "best", who), bad = get_value(sd, "num_bad_epochs", who);
  const double cooldown = get_value(sd, "cooldown_counter", who), last = get_value(sd, "last_epoch", who);
  best_ = best, num_bad_epochs_ = int64_t(bad), cooldown_counter_ = int64_t(cooldown), last_epoch_ = int64_t(last);
  last_lr_ = get_list(sd, "_last_lr");
}

}  // namespace atto::optim
