// optim/optimizer.h -- the Optimizer base: parameter groups with per-group options, per-parameter
// state as named tensors, state_dict/load_state_dict, zero_grad, step hooks. Twin: optimizer.cpp.
//
//   SGD opt(model_params, {.lr = 0.1, .momentum = 0.9});
//   loss.backward(); opt.step(); opt.zero_grad();
//   Tensor m = opt.state(w, "momentum_buffer");          // any parameter's state, by PyTorch's name
//
// NOTE [ Options and groups ]
// Each optimizer has an aggregate options struct with PyTorch's names and defaults (AdamOptions, ...)
// and keeps a vector of ParamGroup<Options>: every group has its own complete copy of the options.
// Schedulers and checkpoints reach options by name through get_option/set_option ("lr", "betas.0",
// "momentum", ...): a struct lists its fields once in fields(). Names that are no field (a
// scheduler's "initial_lr", "max_lr", ...) live in a small per-group map beside, like the extra keys
// PyTorch's schedulers put into its group dicts.
//
// NOTE [ Optimizer state_dict ]
// Like PyTorch's {'state': {index: {name: value}}, 'param_groups': [...]}: parameters are numbered in
// group order; state tensors are named "<index>.<name>" ("0.exp_avg", "0.step") in one StateDict;
// each group's options and parameter indices are in a ParamGroupState. Numbers in the state (step,
// LBFGS's n_iter) are 0-d tensors. load_state_dict copies (never aliases) the tensors.
//
// NOTE [ Optimizer state and devices ]
// State lives with its parameter: buffers are created on the parameter's device (zeros_like(p)),
// and the numbers kept as 0-d tensors (step, n_iter, ...) on the CPU, as PyTorch keeps step, so that
// reading them costs no device synchronisation. When a parameter moves after its state exists
// (Module::to(kCUDA) after some steps), its buffers follow at the next step(); load_state_dict puts
// loaded buffers on their parameter's device. The rule for both: a state tensor follows its
// parameter unless it is 0-d and the parameter is not (the state of a 0-d parameter is all 0-d,
// and its buffers must follow it). Schedulers hold no tensors and are unaffected.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "nn/state_dict.h"
#include "tensor/tensor.h"

namespace atto::optim {

template <class Options> struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
};

// An option's value as a state dict stores it: numbers (flags are 0/1) or a string (LBFGS's
// line_search_fn).
using OptionValue = std::variant<double, std::string>;

struct ParamGroupState {
  std::vector<int64_t> params;                   // indices into all parameters, numbered in group order
  std::map<std::string, OptionValue> options;    // every option of the group, by name
};

struct OptimizerStateDict {
  StateDict state;                               // "<param index>.<state name>" -> tensor
  std::vector<ParamGroupState> param_groups;
};

class Optimizer {
 public:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& name() const { return name_; }

  // One update of every parameter whose grad is defined (others are skipped, as PyTorch), with grad
  // mode off; then the post hooks run.
  void step();
  // Evaluates closure() with grad mode on first, then step(); returns the closure's loss.
  // LBFGS needs the closure (it evaluates it many times).
  virtual Tensor step(const std::function<Tensor()>& closure);
  // set_to_none drops the grads (PyTorch 2's default); otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);

  // ---- groups and options (NOTE [ Options and groups ]) -------------------------------------------------
  virtual size_t num_param_groups() const = 0;
  virtual const std::vector<Tensor>& params(size_t group) const = 0;
  std::vector<Tensor> all_params() const;
  double lr(size_t group) const { return get_option(group, "lr"); }
  void set_lr(size_t group, double lr) { set_option(group, "lr", lr); }
  bool has_option(size_t group, const std::string& name) const;
  double get_option(size_t group, const std::string& name) const;       // a number or flag
  void set_option(size_t group, const std::string& name, double value);  // unknown names: extra keys
  OptionValue get_option_value(size_t group, const std::string& name) const;
  void set_option_value(size_t group, const std::string& name, const OptionValue& value);

  // ---- per-parameter state --------------------------------------------------------------------------------
  // The named state of a parameter (empty before its first update).
  const StateDict& state(const Tensor& param) const;
  // One state entry; an error names the entries there are.
  Tensor state(const Tensor& param, const std::string& name) const;

  // ---- checkpoints (NOTE [ Optimizer state_dict ]) ----------------------------------------------------------
  OptimizerStateDict state_dict() const;
  // Errors (group count, group sizes, state shapes) leave the optimizer unchanged.
  void load_state_dict(const OptimizerStateDict& state_dict);

  // ---- hooks ----------------------------------------------------------------------------------------------
  using StepHook = std::function<void(Optimizer&)>;
  // Called after every step; returns a handle for remove_step_post_hook.
  size_t register_step_post_hook(StepHook hook);
  void remove_step_post_hook(size_t handle);

 protected:
  // The update of one group (grad mode is off).
  virtual void update_group(size_t group) = 0;
  // Typed options of a group by name (false: no such field).
  virtual bool get_field(size_t group, const std::string& name, OptionValue& out) const = 0;
  virtual bool set_field(size_t group, const std::string& name, const OptionValue& value) = 0;
  virtual std::vector<std::string> field_names() const = 0;
  virtual void validate_group(size_t group) const = 0;
  // Checks a loaded state entry against its parameter; the default wants per-parameter buffers (any
  // tensor that is not 0-d) to have the parameter's shape.
  virtual void check_loaded_state(const Tensor& param, const std::string& name, const Tensor& value) const;

  void run_step_post_hooks();
  // Moves state tensors whose parameter has moved to another device since (NOTE [ Optimizer state
  // and devices ]); step() calls it before the update.
  void move_state_to_params();
  StateDict& mutable_state(const Tensor& param) { return state_[param.impl()]; }
  bool has_state(const Tensor& param) const { return state_.count(param.impl()) != 0; }
  void on_group_added(const std::vector<Tensor>& params);   // checks, and an empty extras map

 private:
  std::string name_;
  std::unordered_map<const TensorImpl*, StateDict> state_;
  std::vector<std::map<std::string, double>> extras_;   // per group: scheduler keys such as initial_lr
  std::vector<std::pair<size_t, StepHook>> hooks_;
  size_t next_hook_ = 0;
};

namespace detail {
// Reads/writes one options field through an OptionValue.
template <class T> OptionValue field_to_value(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else return static_cast<double>(v);
}
template <class T> bool value_to_field(const OptionValue& v, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!std::holds_alternative<std::string>(v)) return false;
    out = std::get<std::string>(v);
  } else {
    if (!std::holds_alternative<double>(v)) return false;
    out = static_cast<T>(std::get<double>(v));
  }
  return true;
}
}  // namespace detail

// The typed layer every optimizer derives from: the groups of one options type. Options has
// kName, validate() and fields(f) (see NOTE [ Options and groups ]).
template <class Options> class OptimizerBase : public Optimizer {
 public:
  using Group = ParamGroup<Options>;

  OptimizerBase(std::vector<Tensor> params, Options defaults = {})
      : Optimizer(Options::kName), defaults_(std::move(defaults)) {
    add_param_group(Group{std::move(params), defaults_});
  }
  OptimizerBase(std::vector<Group> groups, Options defaults = {})
      : Optimizer(Options::kName), defaults_(std::move(defaults)) {
    for (auto& g : groups) add_param_group(std::move(g));
  }

  void add_param_group(Group group) {
    group.options.validate();
    on_group_added(group.params);
    groups_.push_back(std::move(group));
  }
  void add_param_group(std::vector<Tensor> params) { add_param_group(Group{std::move(params), defaults_}); }

  std::vector<Group>& param_groups() { return groups_; }
  const std::vector<Group>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }

  size_t num_param_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& params(size_t g) const override {
    ATTO_CHECK(g < groups_.size(), "[{}] no param group {} (there are {})", name(), g, groups_.size());
    return groups_[g].params;
  }

 protected:
  bool get_field(size_t g, const std::string& key, OptionValue& out) const override {
    Options o = groups_.at(g).options;
    bool found = false;
    o.fields([&](const char* n, auto& v) {
      if (!found && key == n) { out = detail::field_to_value(v); found = true; }
    });
    return found;
  }
  bool set_field(size_t g, const std::string& key, const OptionValue& value) override {
    bool found = false, ok = false;
    groups_.at(g).options.fields([&](const char* n, auto& v) {
      if (!found && key == n) { found = true; ok = detail::value_to_field(value, v); }
    });
    ATTO_CHECK(!found || ok, "[{}] option '{}' has another type than the value given", name(), key);
    return found;
  }
  std::vector<std::string> field_names() const override {
    std::vector<std::string> names;
    Options o = defaults_;
    o.fields([&](const char* n, auto&) { names.emplace_back(n); });
    return names;
  }
  void validate_group(size_t g) const override { groups_.at(g).options.validate(); }

  std::vector<Group> groups_;
  Options defaults_;
};

}  // namespace atto::optim
