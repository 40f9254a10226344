// optim/clip_grad.cpp -- gradient clipping, as torch/nn/utils/clip_grad.py. Twin: clip_grad.h.
#include "optim/clip_grad.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/reduce.h"
#include "autograd/functions/shape_ops.h"
#include "autograd/grad_mode.h"

namespace atto::optim {

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  ATTO_CHECK(norm_type > 0, "[clip_grad_norm_] norm_type must be positive (or INFINITY), got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (Tensor g = p.grad(); g.defined()) grads.push_back(g);
  if (grads.empty()) return scalar_tensor(0.0);
  std::vector<Tensor> norms;
  Tensor total;
  if (std::isinf(norm_type)) {
    for (const Tensor& g : grads) norms.push_back(max(abs(g)));
    total = norms.size() == 1 ? norms[0] : max(stack(norms));
  } else {
    for (const Tensor& g : grads) norms.push_back(norm(g, norm_type));
    total = norm(stack(norms), norm_type);
  }
  const double total_value = total.item_double();
  ATTO_CHECK(!error_if_nonfinite || std::isfinite(total_value),
             "[clip_grad_norm_] the total norm of order {} of the gradients is non-finite ({}), so it cannot be "
             "clipped; pass error_if_nonfinite = false to scale the gradients by it anyway",
             norm_type, total_value);
  // Multiplying by a coefficient clamped to 1 (rather than testing it) is PyTorch's way too.
  Tensor clip_coef = clamp(div(Scalar(max_norm), add(total, 1e-6)), std::nullopt, 1.0);
  for (Tensor& g : grads) g.mul_(clip_coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard no_grad;
  for (const Tensor& p : params)
    if (Tensor g = p.grad(); g.defined()) g.clamp_(-clip_value, clip_value);
}

}  // namespace atto::optim
