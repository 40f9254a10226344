// nn/loss.h -- the losses as modules (CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss), each a
// thin holder of its options around the function in autograd/functions/losses.h.
#pragma once
#include "autograd/functions/losses.h"
#include "nn/module.h"

namespace atto::nn {

class CrossEntropyLoss : public Module {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions o = {}) : Module("CrossEntropyLoss"), options(std::move(o)) {}
  Tensor forward(const Tensor& input, const Tensor& target) { return cross_entropy(input, target, options); }
  Tensor operator()(const Tensor& input, const Tensor& target) { return run_hooks(forward(input, target)); }
  CrossEntropyOptions options;
};

class NLLLoss : public Module {
 public:
  explicit NLLLoss(NLLLossOptions o = {}) : Module("NLLLoss"), options(std::move(o)) {}
  Tensor forward(const Tensor& input, const Tensor& target) { return nll_loss(input, target, options); }
  Tensor operator()(const Tensor& input, const Tensor& target) { return run_hooks(forward(input, target)); }
  NLLLossOptions options;
};

class MSELoss : public Module {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Module("MSELoss"), reduction(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) { return mse_loss(input, target, reduction); }
  Tensor operator()(const Tensor& input, const Tensor& target) { return run_hooks(forward(input, target)); }
  Reduction reduction;
};

class BCEWithLogitsLoss : public Module {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = {}, Tensor pos_weight = {}, Reduction reduction = Reduction::Mean)
      : Module("BCEWithLogitsLoss"), weight(std::move(weight)), pos_weight(std::move(pos_weight)), reduction(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) {
    return binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction);
  }
  Tensor operator()(const Tensor& input, const Tensor& target) { return run_hooks(forward(input, target)); }
  Tensor weight, pos_weight;
  Reduction reduction;
};

}  // namespace atto::nn
