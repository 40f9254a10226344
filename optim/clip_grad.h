// optim/clip_grad.h -- gradient clipping: torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
// Twin: clip_grad.cpp.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace atto::optim {

// Scales the grads of `params` in place so that their joint norm (as if all were concatenated) is at
// most max_norm:  total = ||(||g_1||_p, ..., ||g_n||_p)||_p  (max |g| for p = INFINITY), and every
// grad is multiplied by min(1, max_norm / (total + 1e-6)). Returns total (a 0-d tensor; 0 when no
// parameter has a grad). Parameters without a grad are skipped. error_if_nonfinite: a NaN or
// infinite total raises instead of scaling.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every grad of `params` into [-clip_value, clip_value] in place.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace atto::optim
