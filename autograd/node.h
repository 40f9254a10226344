// autograd/node.h -- the backward graph.
//
// A Node is one recorded operation, seen from the backward side. When `y = f(a, b)` runs with grad
// mode on and a or b requires grad, attograd records a Node for f and hangs it on y (y.grad_fn()).
// The node keeps what f's backward needs (saved tensors) and one Edge per differentiable input,
// pointing at the node that produced that input:
//
//   a (leaf) --> AccumulateGrad(a) <--edge--+
//                                           MulBackward <-- y.grad_fn()
//   b = exp(c) --> ExpBackward <------edge--+
//
// Backward walks the edges from the root in reverse topological order (autograd/engine.cpp). Each
// node receives the gradient of the loss with respect to its output, dL/dy, and returns one
// gradient per input edge, dL/da and dL/db (undefined where the input needs none). A node never
// adds gradients up itself: the engine sums what arrives at a node from several consumers
// (NOTE [ Why gradients accumulate ] in engine.cpp). Leaves end in AccumulateGrad, which adds the
// gradient into the leaf's .grad().
//
// Saved tensors are released after a node has run unless backward was asked to retain the graph;
// a second backward through a released node is a clear error.
#pragma once
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace atto {

struct Edge {
  std::shared_ptr<Node> fn;   // the node that produced the input; null when it needs no gradient
  Shape shape;                // the input's shape and dtype: each gradient must match them
  DType dtype = kFloat32;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // dL/d(inputs) from dL/d(output): one entry per edge, undefined for "no gradient".
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<GradHook> pre_hooks;   // run on dL/d(output) before apply (tensor hooks)
  GradHook retain_grad_hook;         // runs after pre_hooks, so .grad() shows the final gradient
  Shape output_shape;                // for print_graph / to_dot
  DType output_dtype = kFloat32;
  bool released = false;             // saved tensors freed by a backward without retain_graph
};

// What a tensor carries for autograd.
struct AutogradMeta {
  Tensor grad;
  std::shared_ptr<Node> grad_fn;               // set on outputs of recorded ops
  std::weak_ptr<Node> grad_accumulator;        // leaves: their AccumulateGrad, shared by all uses
  bool requires_grad = false;
  bool retains_grad = false;
  // Leaves: hooks run by AccumulateGrad on each gradient before it is added into .grad(). They live
  // here, not on the AccumulateGrad node, because that node lives only as long as a graph using
  // the leaf (a hook registered before the leaf's first use, or kept across iterations, must stay).
  std::vector<GradHook> hooks;
};

// The node at the end of every path into a leaf: adds the incoming gradient into leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The edge a gradient for `t` should flow along: t's grad_fn, its AccumulateGrad if it is a leaf
// that requires grad, or a null edge.
Edge gradient_edge(const Tensor& t);

// Runs backward from `roots` with seed gradients `grads` (engine.cpp).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace atto
