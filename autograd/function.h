// autograd/function.h -- how a differentiable op is written: forward and backward side by side.
//
//   struct Exp {
//     static constexpr const char* name = "ExpBackward";
//     struct Saved { Tensor y; };                       // d/dx e^x = e^x = y: keep y, drop x
//     static Tensor forward(Saved& s, const Tensor& x) { ...; return s.y = y; }
//     static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return {dy * s.y}; }
//   };
//   Tensor exp(const Tensor& x) { return apply<Exp>(x); }
//
// apply<Op>(args...) runs Op::forward with grad mode off; if grad mode is on and any Tensor argument
// requires grad, it records a FunctionNode<Op> whose edges are the Tensor arguments in order
// (a std::vector<Tensor> argument contributes one edge per element). Op::backward returns one
// gradient per edge, in the same order; undefined means "none". Backward formulas may call any
// differentiable op: they run with grad mode off.
//
// Saved may derive from SavedBase to learn which inputs need a gradient (skip work otherwise).
#pragma once
#include <array>
#include <type_traits>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace atto {

struct SavedBase {
  uint64_t needs_grad_mask = ~uint64_t(0);
  bool needs_input_grad(int i) const { return i >= 64 || ((needs_grad_mask >> i) & 1); }
};

template <class Op> class FunctionNode final : public Node {
 public:
  typename Op::Saved saved;

  const char* name() const override { return Op::name; }
  std::vector<Tensor> apply(const Tensor& grad_output) override {
    auto grads = Op::backward(saved, grad_output);
    if constexpr (std::is_same_v<decltype(grads), std::vector<Tensor>>) return grads;
    else return std::vector<Tensor>(grads.begin(), grads.end());
  }
  void release_saved() override { saved = typename Op::Saved{}; }
};

namespace detail {
inline void collect(std::vector<const Tensor*>& out, const Tensor& t) { out.push_back(&t); }
inline void collect(std::vector<const Tensor*>& out, const std::vector<Tensor>& ts) {
  for (auto& t : ts) out.push_back(&t);
}
template <class T> void collect(std::vector<const Tensor*>&, const T&) {}

inline bool any_requires_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }
inline bool any_requires_grad(const std::vector<Tensor>& ts) {
  for (auto& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
template <class T> bool any_requires_grad(const T&) { return false; }

// Gives `out` a fresh handle carrying the node (NOTE [ Outputs get a fresh handle ]).
void attach_output(Tensor& out, std::shared_ptr<Node> node, const std::vector<const Tensor*>& inputs);
}  // namespace detail

template <class Op, class... Args> Tensor apply(const Args&... args) {
  if (!GradMode::is_enabled() || !(detail::any_requires_grad(args) || ...)) {
    typename Op::Saved saved;   // forward may fill it; dropped at once
    return Op::forward(saved, args...);
  }
  auto node = std::make_shared<FunctionNode<Op>>();
  std::vector<const Tensor*> inputs;
  (detail::collect(inputs, args), ...);
  if constexpr (std::is_base_of_v<SavedBase, typename Op::Saved>) {
    uint64_t mask = 0;
    for (size_t i = 0; i < inputs.size() && i < 64; ++i)
      if (inputs[i]->defined() && inputs[i]->requires_grad()) mask |= uint64_t(1) << i;
    node->saved.needs_grad_mask = mask;
  }
  Tensor out;
  {
    NoGradGuard no_grad;
    out = Op::forward(node->saved, args...);
  }
  detail::attach_output(out, std::move(node), inputs);
  return out;
}

}  // namespace atto
