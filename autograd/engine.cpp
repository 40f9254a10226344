// autograd/engine.cpp -- reverse-mode backward over the recorded graph (see autograd/node.h).
//
// 1. Topological order: an iterative depth-first search from the root (an explicit stack, so a
//    graph of 100,000 chained ops cannot overflow the C++ stack), visiting edges in program order,
//    so every run walks the nodes in the same order.
// 2. Walk the nodes from the root towards the leaves. A node runs once every consumer of its output
//    has delivered its gradient, i.e. in reverse topological order.
// 3. Free saved tensors after a node has run, unless retain_graph.
#include <unordered_map>

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace atto {

Tensor add(const Tensor& a, const Tensor& b);   // autograd/functions/elementwise.cpp

namespace {

// Post-order DFS: a node is appended after every node it points at, so the reversed list starts at
// the root and lists each node before the nodes its edges lead to.
std::vector<Node*> topological_order(const std::vector<Node*>& roots) {
  std::vector<Node*> order;
  std::unordered_map<Node*, bool> seen;
  std::vector<std::pair<Node*, size_t>> stack;   // (node, next edge to visit)
  for (Node* root : roots) {
    if (seen[root]) continue;
    seen[root] = true;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->next_edges.size()) {
        Node* child = node->next_edges[next++].fn.get();
        if (child && !seen[child]) {
          seen[child] = true;
          stack.push_back({child, 0});
        }
      } else {
        order.push_back(node);
        stack.pop_back();
      }
    }
  }
  return {order.rbegin(), order.rend()};
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;   // backward formulas are not themselves recorded
  std::unordered_map<Node*, Tensor> pending;   // dL/d(output) summed so far, per node
  std::vector<Node*> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    ATTO_CHECK(e.fn, "[backward] tensor {} does not require grad and has no grad_fn", i);
    Tensor& slot = pending[e.fn.get()];
    slot = slot.defined() ? add(slot, grads[i]) : grads[i];
    root_nodes.push_back(e.fn.get());
  }

  for (Node* node : topological_order(root_nodes)) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;   // nothing flowed here (every consumer's gradient was undefined)
    Tensor grad = std::move(it->second);
    pending.erase(it);
    ATTO_CHECK(!node->released,
               "[backward] trying to backward through the graph a second time ({} already freed its saved "
               "tensors); pass retain_graph=true to the first backward if you need to",
               node->name());
    for (auto& hook : node->pre_hooks) {
      Tensor replaced = hook(grad);
      if (replaced.defined()) grad = replaced;
    }
    if (node->retain_grad_hook) node->retain_grad_hook(grad);
    std::vector<Tensor> input_grads = node->apply(grad);
    ATTO_ASSERT(input_grads.size() == node->next_edges.size(), "{} returned {} gradients for {} inputs",
                node->name(), input_grads.size(), node->next_edges.size());
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& edge = node->next_edges[i];
      Tensor& g = input_grads[i];
      if (!edge.fn || !g.defined()) continue;
      ATTO_ASSERT(g.shape() == edge.shape, "{} returned a gradient of shape {} for input {} of shape {}",
                  node->name(), g.shape(), i, edge.shape);
      if (g.dtype() != edge.dtype) g = g.to(edge.dtype);
      // NOTE [ Why gradients accumulate ]
      // When an input feeds several consumers (x used twice, a weight shared across time steps),
      // dL/dx is the *sum* of what each consumer sends back: the multivariable chain rule. This is
      // the only place in attograd where gradients are added up; backward formulas just return
      // theirs. (Leaves add into .grad() in AccumulateGrad, across backward calls.)
      Tensor& slot = pending[edge.fn.get()];
      slot = slot.defined() ? add(slot, g) : g;
    }
    if (!retain_graph) {
      node->release_saved();
      node->released = !dynamic_cast<AccumulateGrad*>(node);   // leaves can always take more
    }
  }
}

}  // namespace atto
