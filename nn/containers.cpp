// nn/containers.cpp -- see containers.h.
#include "nn/containers.h"

namespace atto::nn {

static ModulePtr child_at(const Module& m, size_t i) {
  auto children = m.named_children();
  ATTO_CHECK(i < children.size(), "[{}] index {} is out of range for {} modules", m.type_name(), i, children.size());
  return children[i].second;
}

ModulePtr Sequential::operator[](size_t i) const { return child_at(*this, i); }
ModulePtr ModuleList::operator[](size_t i) const { return child_at(*this, i); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [name, m] : named_children()) h = (*m)(h);
  return h;
}

ModulePtr ModuleDict::operator[](const std::string& key) const {
  for (auto& [name, m] : named_children())
    if (name == key) return m;
  throw Error(fmt::format("[ModuleDict] no module named '{}'", key));
}

bool ModuleDict::contains(const std::string& key) const {
  for (auto& [name, m] : named_children())
    if (name == key) return true;
  return false;
}

}  // namespace atto::nn
