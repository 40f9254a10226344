// nn/state_dict.h -- StateDict: an ordered map from names to tensors, like the OrderedDict that
// PyTorch's state_dict() returns. Modules, optimizers and checkpoint files all speak it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace atto {

class StateDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  // Adds or replaces `name`; a new name goes to the end (insertion order is kept).
  void insert(const std::string& name, const Tensor& t) {
    if (Tensor* found = find(name)) *found = t;
    else items_.emplace_back(name, t);
  }
  Tensor* find(const std::string& name) {
    for (auto& [k, v] : items_)
      if (k == name) return &v;
    return nullptr;
  }
  const Tensor* find(const std::string& name) const { return const_cast<StateDict*>(this)->find(name); }
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const Tensor& at(const std::string& name) const {
    const Tensor* t = find(name);
    ATTO_CHECK(t, "[state_dict] no entry named '{}'", name);
    return *t;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (auto& [name, t] : items_) k.push_back(name);
    return k;
  }

 private:
  std::vector<Item> items_;
};

}  // namespace atto
