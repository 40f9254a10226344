// autograd/tensor_autograd.cpp -- the autograd half of the Tensor handle: requires_grad, .grad(),
// grad_fn, backward(), hooks, detach; AccumulateGrad; apply<Op>'s helpers.
#include "autograd/function.h"
#include "autograd/node.h"

namespace atto {

Tensor add(const Tensor& a, const Tensor& b);

AutogradMeta& Tensor::autograd_meta() const {
  if (!impl_->autograd) impl_->autograd = std::make_unique<AutogradMeta>();
  return *impl_->autograd;
}

bool Tensor::requires_grad() const { return impl_->autograd && impl_->autograd->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  ATTO_CHECK(is_leaf(), "[requires_grad_] can only change requires_grad of a leaf tensor (this one has grad_fn {}); "
             "use detach() first", grad_fn()->name());
  ATTO_CHECK(!on || is_floating_point(), "[requires_grad_] only floating tensors can require grad, got {}",
             dtype());
  autograd_meta().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_->autograd ? impl_->autograd->grad : Tensor(); }
void Tensor::set_grad(const Tensor& g) const {
  ATTO_CHECK(!g.defined() || g.shape() == shape(), "[set_grad] gradient of shape {} for a tensor of shape {}",
             g.defined() ? g.shape() : Shape{}, shape());
  ATTO_CHECK(!g.defined() || g.device() == device(), "[set_grad] gradient on {} for a tensor on {}",
             g.defined() ? g.device() : device(), device());
  autograd_meta().grad = g;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_->autograd ? impl_->autograd->grad_fn : none;
}
bool Tensor::is_leaf() const { return grad_fn() == nullptr; }
bool Tensor::retains_grad() const { return impl_->autograd && impl_->autograd->retains_grad; }

Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), storage_offset());
}

Edge gradient_edge(const Tensor& t) {
  Edge e{nullptr, t.shape(), t.dtype()};
  if (!t.requires_grad()) return e;
  AutogradMeta& meta = t.autograd_meta();
  if (meta.grad_fn) {
    e.fn = meta.grad_fn;
  } else {
    e.fn = meta.grad_accumulator.lock();
    if (!e.fn) {
      e.fn = std::make_shared<AccumulateGrad>(t.impl_ptr());
      e.fn->output_shape = t.shape();
      e.fn->output_dtype = t.dtype();
      meta.grad_accumulator = e.fn;
    }
  }
  return e;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  if (auto leaf = leaf_.lock()) {
    AutogradMeta& meta = Tensor(leaf).autograd_meta();
    Tensor grad = grad_output;
    for (auto& hook : meta.hooks) {
      Tensor replaced = hook(grad);
      if (replaced.defined()) grad = replaced;
    }
    // A fresh copy: the incoming gradient may be shared with other leaves (add's backward hands
    // the same dy to both inputs), and optimizers update .grad() in place.
    meta.grad = meta.grad.defined() ? add(meta.grad, grad) : grad.clone();
  }
  return {};
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor seed = gradient;
  if (!seed.defined()) {
    ATTO_CHECK(numel() == 1, "[backward] grad can be implicitly created only for one-element outputs; this one has "
               "shape {}: pass a gradient of that shape", shape());
    seed = ones_like(*this);
  }
  ATTO_CHECK(seed.shape() == shape(), "[backward] gradient of shape {} for a tensor of shape {}", seed.shape(),
             shape());
  ATTO_CHECK(seed.device() == device(), "[backward] gradient on {} for a tensor on {}", seed.device(), device());
  run_backward({*this}, {seed}, retain_graph);
}

void Tensor::register_hook(GradHook hook) const {
  ATTO_CHECK(requires_grad(), "[register_hook] cannot register a hook on a tensor that does not require grad");
  if (is_leaf())
    autograd_meta().hooks.push_back(std::move(hook));   // run by AccumulateGrad, whichever graph uses it
  else
    grad_fn()->pre_hooks.push_back(std::move(hook));
}

void Tensor::retain_grad() const {
  ATTO_CHECK(requires_grad(), "[retain_grad] cannot retain_grad on a tensor that does not require grad");
  if (is_leaf() || retains_grad()) return;   // leaves keep their grad anyway
  autograd_meta().retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  grad_fn()->retain_grad_hook = [weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      AutogradMeta& meta = Tensor(impl).autograd_meta();
      meta.grad = meta.grad.defined() ? add(meta.grad, g) : g.clone();
    }
    return Tensor();
  };
}

namespace detail {

// NOTE [ Outputs get a fresh handle ]
// The recorded output is always a new TensorImpl over the forward result's storage. Forward may have
// returned one of its inputs unchanged (setting grad_fn on it would rewrite the input), and it may
// have kept its result in Saved (exp saves y): if the returned handle were that same impl, the impl
// would own its grad_fn, which owns Saved, which owns the impl -- a cycle that is never freed.
void attach_output(Tensor& out, std::shared_ptr<Node> node, const std::vector<const Tensor*>& inputs) {
  out = make_view(out, out.shape(), out.strides(), out.storage_offset());
  node->next_edges.reserve(inputs.size());
  for (const Tensor* in : inputs) node->next_edges.push_back(in->defined() ? gradient_edge(*in) : Edge{});
  node->output_shape = out.shape();
  node->output_dtype = out.dtype();
  AutogradMeta& meta = out.autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = std::move(node);
}

}  // namespace detail
}  // namespace atto
