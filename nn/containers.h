// nn/containers.h -- Sequential, ModuleList, ModuleDict: modules that hold modules. Children are
// named "0", "1", ... (Sequential, ModuleList) or by key (ModuleDict), as in PyTorch, so parameter
// names match ("layers.0.weight").
#pragma once
#include <initializer_list>

#include "nn/module.h"

namespace atto::nn {

// Runs its children in order, each one's output feeding the next (single-tensor forwards).
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<ModulePtr> modules) : Sequential() {
    for (auto& m : modules) push_back(m);
  }
  void push_back(ModulePtr m) { add_child(std::to_string(size()), std::move(m)); }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;
};

// A list of modules whose parameters are registered; the owner decides how to call them.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  ModuleList(std::initializer_list<ModulePtr> modules) : ModuleList() {
    for (auto& m : modules) push_back(m);
  }
  void push_back(ModulePtr m) { add_child(std::to_string(size()), std::move(m)); }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  template <class M> std::shared_ptr<M> at(size_t i) const { return std::dynamic_pointer_cast<M>((*this)[i]); }
};

// Modules by name, in insertion order.
class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  void insert(const std::string& key, ModulePtr m) { add_child(key, std::move(m)); }
  ModulePtr operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  size_t size() const { return named_children().size(); }
};

}  // namespace atto::nn
