// nn/module.h -- Module: the base of every layer. It keeps named parameters, buffers and child
// modules, so that a whole model can be walked (named_parameters with PyTorch's dotted names such
// as "encoder.layers.0.self_attn.in_proj_weight"), saved and loaded (state_dict), switched between
// training and evaluation, converted (to(dtype)), printed like PyTorch's repr, and hooked.
//
//   struct Mlp : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Mlp() : nn::Module("Mlp") {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(64, 128));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
//   };
//
// Call a module with operator(): it runs forward and then the forward hooks (which may inspect or
// replace the output) and attaches the backward hooks to the output (which may inspect or replace
// the gradient flowing back into the layer). Modules whose forward takes other arguments (LSTM,
// MultiheadAttention) define their own operator() and call run_hooks() on their main output.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/state_dict.h"
#include "tensor/tensor.h"

namespace atto::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
// A forward hook sees the module and its output; returning a defined tensor replaces the output.
using ForwardHook = std::function<Tensor(Module&, const Tensor& output)>;
// A backward hook sees the module and dL/d(output); returning a defined tensor replaces it.
using BackwardHook = std::function<Tensor(Module&, const Tensor& grad_output)>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- forward -------------------------------------------------------------------------------------
  // The single-tensor forward of layers like Linear or ReLU; modules with another signature leave it.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return run_hooks(forward(input)); }

  // ---- registration ----------------------------------------------------------------------------------
  // Registers t as a parameter (made a leaf that requires grad unless requires_grad is false) and
  // returns the handle, so `weight = register_parameter("weight", ...)` shares it.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);   // saved in state_dict, not trained
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // ---- introspection ---------------------------------------------------------------------------------
  StateDict named_parameters(bool recurse = true) const;   // "fc1.weight", ... in registration order
  std::vector<Tensor> parameters(bool recurse = true) const;
  StateDict named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const { return children_; }
  std::vector<std::pair<std::string, ModulePtr>> named_modules(const std::string& prefix = "") const;  // not self
  int64_t num_parameters(bool trainable_only = false) const;
  const std::string& type_name() const { return type_name_; }

  // ---- modes and conversions ---------------------------------------------------------------------------
  virtual void train(bool on = true);   // recursive; Dropout and friends read is_training()
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void to(DType dtype);                 // floating parameters and buffers, in place (handles stay valid)
  void to(Device device);
  void zero_grad(bool set_to_none = true);
  void apply(const std::function<void(Module&)>& fn);   // fn on every submodule, then on this one

  // ---- state -----------------------------------------------------------------------------------------------
  // Parameters and buffers under their dotted names; the tensors share storage with the module.
  StateDict state_dict() const;
  // Copies values in (converting dtype). strict: the key sets must match exactly. Any missing or
  // unexpected key, and any shape mismatch, is listed in one error and nothing is changed.
  void load_state_dict(const StateDict& dict, bool strict = true);

  // ---- printing ----------------------------------------------------------------------------------------------
  std::string repr() const;                       // PyTorch's format, children indented
  virtual std::string extra_repr() const { return ""; }   // "in_features=64, out_features=128, bias=True"

  // ---- hooks -----------------------------------------------------------------------------------------------
  int register_forward_hook(ForwardHook hook);
  int register_backward_hook(BackwardHook hook);
  void remove_hook(int id);
  Tensor run_hooks(Tensor output);   // forward hooks, then backward hooks attached to the output
  // Whether any hook is registered: a parent that would bypass this module's forward (to fuse it
  // with what follows) must not, or the hooks would not run.
  bool has_hooks() const { return !forward_hooks_.empty() || !backward_hooks_.empty(); }

 protected:
  void add_child(const std::string& name, ModulePtr m);

 private:
  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::map<int, ForwardHook> forward_hooks_;
  std::map<int, BackwardHook> backward_hooks_;
  int next_hook_id_ = 0;
};

// fmt / ostream printing of a module tree: fmt::print("{}\n", model) prints model.repr().
inline std::string to_string(const Module& m) { return m.repr(); }

}  // namespace atto::nn
