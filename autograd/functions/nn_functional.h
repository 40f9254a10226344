// autograd/functions/nn_functional.h -- the functional forms of common layers (torch.nn.functional):
// softmax, log_softmax, layer_norm. Kernels: tensor/cpu/softmax.h, tensor/cpu/layernorm.h.
#pragma once
#include "tensor/tensor.h"

namespace atto {

// exp(x) / sum(exp(x)) along `dim`, computed stably (the row max is subtracted first).
Tensor softmax(const Tensor& x, int64_t dim);
// log(softmax(x, dim)), computed as x - max - log(sum(exp(x - max))): never log(0) for finite x.
Tensor log_softmax(const Tensor& x, int64_t dim);
// softmax over the last dim of scores (..., L, S) where query i sees keys j <= i only (PyTorch's
// is_causal, ones(L, S).tril()); the hidden entries get weight 0. Equal, bit for bit, to
// softmax(masked_fill(x, j > i, -inf), -1), without building or reading a mask.
Tensor causal_softmax(const Tensor& x);
// The keys is_causal hides: (L, S) bool on `device`, true where key j > query i.
Tensor causal_hidden_keys(int64_t L, int64_t S, Device device);

// F.layer_norm: normalises over the last normalized_shape.size() dims, which must equal
// normalized_shape; y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance.
// weight and bias (shape normalized_shape) are optional: pass {} for none.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

}  // namespace atto
