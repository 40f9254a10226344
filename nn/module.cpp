// nn/module.cpp -- the Module base: registries, recursive walks, state dicts, printing, hooks.
#include "nn/module.h"

#include <set>
#include <sstream>

#include "autograd/grad_mode.h"

namespace atto::nn {

namespace {
void check_name(const std::string& name, const std::string& owner, const char* what) {
  ATTO_CHECK(!name.empty() && name.find('.') == std::string::npos,
             "[{}] {} name '{}' must be non-empty and contain no '.'", owner, what, name);
}
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

Tensor Module::forward(const Tensor&) {
  throw Error(fmt::format("[{}] has no forward(Tensor); call its own forward with the arguments it takes", type_name_));
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, type_name_, "parameter");
  for (auto& [n, p] : params_) ATTO_CHECK(n != name, "[{}] parameter '{}' is already registered", type_name_, name);
  if (t.defined() && requires_grad && !t.requires_grad()) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, type_name_, "buffer");
  for (auto& [n, b] : buffers_) ATTO_CHECK(n != name, "[{}] buffer '{}' is already registered", type_name_, name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_name(name, type_name_, "submodule");
  ATTO_CHECK(m != nullptr, "[{}] submodule '{}' is null", type_name_, name);
  for (auto& [n, c] : children_) ATTO_CHECK(n != name, "[{}] submodule '{}' is already registered", type_name_, name);
  children_.emplace_back(name, std::move(m));
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules(const std::string& prefix) const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  for (auto& [name, child] : children_) {
    std::string full = join(prefix, name);
    out.emplace_back(full, child);
    auto sub = child->named_modules(full);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

StateDict Module::named_parameters(bool recurse) const {
  StateDict out;
  for (auto& [name, p] : params_)
    if (p.defined()) out.insert(name, p);
  if (recurse)
    for (auto& [prefix, m] : named_modules())
      for (auto& [name, p] : m->params_)
        if (p.defined()) out.insert(join(prefix, name), p);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
  return out;
}

StateDict Module::named_buffers(bool recurse) const {
  StateDict out;
  for (auto& [name, b] : buffers_)
    if (b.defined()) out.insert(name, b);
  if (recurse)
    for (auto& [prefix, m] : named_modules())
      for (auto& [name, b] : m->buffers_)
        if (b.defined()) out.insert(join(prefix, name), b);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  apply([dtype](Module& m) {
    for (auto* list : {&m.params_, &m.buffers_})
      for (auto& [name, t] : *list)
        if (t.defined() && t.is_floating_point() && t.dtype() != dtype) {
          t.set_data(t.to(dtype));
          if (t.grad().defined()) t.set_grad(t.grad().to(dtype));
        }
  });
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  apply([device](Module& m) {
    for (auto* list : {&m.params_, &m.buffers_})
      for (auto& [name, t] : *list)
        if (t.defined() && t.device() != device) {
          t.set_data(t.to(device));
          if (t.grad().defined()) t.set_grad(t.grad().to(device));
        }
  });
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& [name, p] : named_parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none) p.set_grad(Tensor());
    else p.grad().zero_();
  }
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, p] : named_parameters()) out.insert(name, p.detach());
  for (auto& [name, b] : named_buffers()) out.insert(name, b.detach());
  return out;
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  StateDict own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (auto& [name, t] : own) {
    const Tensor* src = dict.find(name);
    if (!src) missing.push_back(name);
    else if (src->shape() != t.shape())
      mismatched.push_back(fmt::format("{}: expected shape {}, got {}", name, t.shape(), src->shape()));
  }
  for (auto& [name, t] : dict)
    if (!own.contains(name)) unexpected.push_back(name);
  bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::string msg = fmt::format("[load_state_dict] the state dict does not fit {}:", type_name_);
    if (!missing.empty()) msg += fmt::format("\n  missing keys: {}", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format("\n  unexpected keys: {}", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) msg += fmt::format("\n  shape mismatches: {}", fmt::join(mismatched, "; "));
    throw Error(msg);
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : own)
    if (const Tensor* src = dict.find(name)) t.copy_(src->to(t.device()));
}

std::string Module::repr() const {
  std::string extra = extra_repr();
  if (children_.empty()) return fmt::format("{}({})", type_name_, extra);
  std::string out = type_name_ + "(";
  if (!extra.empty()) out += "\n  " + extra;
  for (auto& [name, child] : children_) {
    std::string sub = child->repr();
    std::string indented;
    for (char c : sub) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
    out += fmt::format("\n  ({}): {}", name, indented);
  }
  return out + "\n)";
}

int Module::register_forward_hook(ForwardHook hook) {
  forward_hooks_[next_hook_id_] = std::move(hook);
  return next_hook_id_++;
}

int Module::register_backward_hook(BackwardHook hook) {
  backward_hooks_[next_hook_id_] = std::move(hook);
  return next_hook_id_++;
}

void Module::remove_hook(int id) {
  ATTO_CHECK(forward_hooks_.erase(id) + backward_hooks_.erase(id) == 1, "[{}] no hook with id {}", type_name_, id);
}

Tensor Module::run_hooks(Tensor output) {
  for (auto& [id, hook] : forward_hooks_) {
    Tensor replaced = hook(*this, output);
    if (replaced.defined()) output = replaced;
  }
  if (!backward_hooks_.empty() && output.requires_grad()) {
    // The hook lives on a fresh alias of the output, so it sees exactly the gradient that flows
    // back into this layer through what it returned.
    output = output.view(output.shape());
    for (auto& [id, hook] : backward_hooks_)
      output.register_hook([this, h = hook](const Tensor& g) { return h(*this, g); });
  }
  return output;
}

}  // namespace atto::nn
