// optim/optimizer.cpp -- the Optimizer base: step and hooks, zero_grad, options by name, state,
// state_dict/load_state_dict. Twin: optimizer.h.
#include "optim/optimizer.h"

#include <algorithm>
#include <unordered_set>

#include "autograd/grad_mode.h"

namespace atto::optim {

namespace {

// Whether a state tensor lives on its parameter's device (NOTE [ Optimizer state and devices ]).
bool follows_param(const Tensor& param, const Tensor& value) { return value.dim() > 0 || param.dim() == 0; }

}  // namespace

void Optimizer::step() {
  {
    NoGradGuard no_grad;
    move_state_to_params();
    for (size_t g = 0; g < num_param_groups(); ++g) update_group(g);
  }
  run_step_post_hooks();
}

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  if (closure) {
    EnableGradGuard grad_on;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : params(g)) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        NoGradGuard no_grad;
        grad.zero_();
      }
    }
}

std::vector<Tensor> Optimizer::all_params() const {
  std::vector<Tensor> all;
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : params(g)) all.push_back(p);
  return all;
}

// ---- options by name ---------------------------------------------------------------------------------------

bool Optimizer::has_option(size_t g, const std::string& key) const {
  ATTO_CHECK(g < num_param_groups(), "[{}] no param group {} (there are {})", name_, g, num_param_groups());
  OptionValue v;
  return get_field(g, key, v) || extras_[g].count(key) != 0;
}

OptionValue Optimizer::get_option_value(size_t g, const std::string& key) const {
  ATTO_CHECK(g < num_param_groups(), "[{}] no param group {} (there are {})", name_, g, num_param_groups());
  OptionValue v;
  if (get_field(g, key, v)) return v;
  auto it = extras_[g].find(key);
  ATTO_CHECK(it != extras_[g].end(), "[{}] param group {} has no option '{}'", name_, g, key);
  return it->second;
}

double Optimizer::get_option(size_t g, const std::string& key) const {
  OptionValue v = get_option_value(g, key);
  ATTO_CHECK(std::holds_alternative<double>(v), "[{}] option '{}' is not a number", name_, key);
  return std::get<double>(v);
}

void Optimizer::set_option_value(size_t g, const std::string& key, const OptionValue& value) {
  ATTO_CHECK(g < num_param_groups(), "[{}] no param group {} (there are {})", name_, g, num_param_groups());
  if (set_field(g, key, value)) return;
  ATTO_CHECK(std::holds_alternative<double>(value), "[{}] extra option '{}' must be a number", name_, key);
  extras_[g][key] = std::get<double>(value);
}

void Optimizer::set_option(size_t g, const std::string& key, double value) { set_option_value(g, key, value); }

// ---- state -------------------------------------------------------------------------------------------------

const StateDict& Optimizer::state(const Tensor& param) const {
  static const StateDict empty;
  auto it = state_.find(param.impl());
  return it == state_.end() ? empty : it->second;
}

Tensor Optimizer::state(const Tensor& param, const std::string& key) const {
  const StateDict& s = state(param);
  const Tensor* t = s.find(key);
  ATTO_CHECK(t, "[{}] parameter has no state '{}' (it has: {})", name_, key, s.keys());
  return *t;
}

void Optimizer::move_state_to_params() {
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : params(g)) {
      auto it = state_.find(p.impl());
      if (it == state_.end()) continue;
      for (auto& [key, t] : it->second)
        if (t.device() != p.device() && follows_param(p, t)) t = t.to(p.device());
    }
}

void Optimizer::on_group_added(const std::vector<Tensor>& params) {
  std::unordered_set<const TensorImpl*> seen;
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : this->params(g)) seen.insert(p.impl());
  for (const Tensor& p : params) {
    ATTO_CHECK(p.defined(), "[{}] a parameter is an undefined tensor", name_);
    ATTO_CHECK(p.is_floating_point(), "[{}] can only optimize floating-point tensors, got {}", name_, p.dtype());
    ATTO_CHECK(p.is_leaf(), "[{}] can't optimize a non-leaf tensor (shape {})", name_, p.shape());
    ATTO_CHECK(seen.insert(p.impl()).second, "[{}] a parameter (shape {}) appears more than once in the param groups",
               name_, p.shape());
  }
  extras_.emplace_back();
}

// ---- state_dict ----------------------------------------------------------------------------------------------

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict sd;
  int64_t index = 0;
  for (size_t g = 0; g < num_param_groups(); ++g) {
    ParamGroupState gs;
    for (const std::string& key : field_names()) gs.options[key] = get_option_value(g, key);
    for (const auto& [key, v] : extras_[g]) gs.options[key] = v;
    for (const Tensor& p : params(g)) {
      gs.params.push_back(index);
      for (const auto& [key, t] : state(p)) sd.state.insert(fmt::format("{}.{}", index, key), t);
      ++index;
    }
    sd.param_groups.push_back(std::move(gs));
  }
  return sd;
}

void Optimizer::check_loaded_state(const Tensor& param, const std::string& key, const Tensor& value) const {
  ATTO_CHECK(value.dim() == 0 || value.shape() == param.shape(),
             "[{}] load_state_dict: state '{}' has shape {} but its parameter has shape {}", name_, key,
             value.shape(), param.shape());
}

void Optimizer::load_state_dict(const OptimizerStateDict& sd) {
  ATTO_CHECK(sd.param_groups.size() == num_param_groups(),
             "[{}] load_state_dict: the state dict has {} param groups, the optimizer has {}", name_,
             sd.param_groups.size(), num_param_groups());
  std::vector<Tensor> flat;
  for (size_t g = 0; g < num_param_groups(); ++g) {
    ATTO_CHECK(sd.param_groups[g].params.size() == params(g).size(),
               "[{}] load_state_dict: param group {} has {} parameters in the state dict, {} in the optimizer",
               name_, g, sd.param_groups[g].params.size(), params(g).size());
    for (const Tensor& p : params(g)) flat.push_back(p);
  }
  // Map each saved index to its parameter, then check every entry before changing anything.
  std::map<int64_t, Tensor> by_index;
  for (size_t g = 0, k = 0; g < num_param_groups(); ++g)
    for (int64_t saved : sd.param_groups[g].params) by_index[saved] = flat[k++];
  std::unordered_map<const TensorImpl*, StateDict> loaded;
  for (const auto& [full, t] : sd.state) {
    size_t dot = full.find('.');
    ATTO_CHECK(dot != std::string::npos && dot > 0, "[{}] load_state_dict: bad state name '{}' (want '<index>.<name>')",
               name_, full);
    int64_t index = -1;
    try {
      index = std::stoll(full.substr(0, dot));
    } catch (const std::exception&) {
      ATTO_CHECK(false, "[{}] load_state_dict: bad state name '{}' (want '<index>.<name>')", name_, full);
    }
    auto it = by_index.find(index);
    ATTO_CHECK(it != by_index.end(), "[{}] load_state_dict: state '{}' names parameter {}, which no group has", name_,
               full, index);
    const Tensor& p = it->second;
    std::string key = full.substr(dot + 1);
    check_loaded_state(p, key, t);
    // Buffers follow the parameter's device and dtype (as PyTorch's cast); 0-d numbers keep theirs
    // (NOTE [ Optimizer state and devices ]).
    Tensor copy = follows_param(p, t) ? t.to(p.device()) : t;
    if (t.dim() > 0 && t.dtype() != p.dtype()) copy = copy.to(p.dtype());
    if (copy.is_same(t)) copy = t.clone();
    loaded[p.impl()].insert(key, copy.detach());
  }
  // Options: validate on a copy first so that a bad value leaves the optimizer as it was.
  std::vector<std::map<std::string, OptionValue>> saved_fields(num_param_groups());
  for (size_t g = 0; g < num_param_groups(); ++g) {
    for (const auto& [key, v] : sd.param_groups[g].options) {
      OptionValue cur;
      if (get_field(g, key, cur)) {
        ATTO_CHECK(cur.index() == v.index(), "[{}] load_state_dict: option '{}' has the wrong type", name_, key);
        saved_fields[g][key] = cur;
      }
    }
  }
  std::vector<std::map<std::string, double>> new_extras(num_param_groups());
  try {
    for (size_t g = 0; g < num_param_groups(); ++g) {
      for (const auto& [key, v] : sd.param_groups[g].options) {
        if (set_field(g, key, v)) continue;
        ATTO_CHECK(std::holds_alternative<double>(v), "[{}] load_state_dict: extra option '{}' must be a number",
                   name_, key);
        new_extras[g][key] = std::get<double>(v);
      }
      validate_group(g);
    }
  } catch (...) {
    for (size_t g = 0; g < num_param_groups(); ++g)
      for (const auto& [key, v] : saved_fields[g]) set_field(g, key, v);
    throw;
  }
  extras_ = std::move(new_extras);
  state_ = std::move(loaded);
}

// ---- hooks -----------------------------------------------------------------------------------------------

size_t Optimizer::register_step_post_hook(StepHook hook) {
  hooks_.emplace_back(next_hook_, std::move(hook));
  return next_hook_++;
}

void Optimizer::remove_step_post_hook(size_t handle) {
  hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(), [&](const auto& h) { return h.first == handle; }),
               hooks_.end());
}

void Optimizer::run_step_post_hooks() {
  for (auto& [id, hook] : hooks_) hook(*this);
}

}  // namespace atto::optim
