// autograd/functions/losses.h -- loss functions with PyTorch's semantics and defaults:
// cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits. Each is one differentiable
// function (losses.cpp) over the kernels of tensor/cpu/loss.h.
#pragma once
#include "tensor/tensor.h"

namespace atto {

enum class Reduction { None, Mean, Sum };

struct NLLLossOptions {
  Tensor weight;                 // per-class weights (C), or undefined for none
  int64_t ignore_index = -100;   // targets equal to it add nothing, and are left out of the mean
  Reduction reduction = Reduction::Mean;
};

struct CrossEntropyOptions {
  Tensor weight;                 // per-class weights (C), or undefined for none
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;  // in [0, 1]: the target becomes (1 - s) one_hot + s / C
  Reduction reduction = Reduction::Mean;
};

// Class-index targets (int64). input is (N, C), or (N, C, d1, ...) with the classes on dim 1 and
// target (N, d1, ...), or (C) with a 0-d target. The mean divides by the summed weight of the
// non-ignored targets (their count without weights), as PyTorch does. Differentiable in input.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});
// input holds log-probabilities (e.g. from log_softmax), same layouts as cross_entropy.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});

// (input - target)^2, reduced; input and target broadcast. Differentiable in both.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// -w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably from the logits x.
// target has input's shape; weight and pos_weight (undefined for none) broadcast to it (pos_weight
// is usually per class, shape (C)). Differentiable in input and target.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        const Tensor& pos_weight = {}, Reduction reduction = Reduction::Mean);

}  // namespace atto
