// autograd/functions/rnn_cells.h -- the fused pointwise part of an LSTM step (twin of the composite
// lstm_step in nn/rnn.cpp, which it replaces on the fast path and is tested against).
#pragma once
#include "tensor/tensor.h"

namespace atto {

// gates [B, 4H] (pre-activations x W_ih^T + b_ih + h W_hh^T + b_hh, in PyTorch's order i, f, g, o)
// and c [B, H] -> [B, 2H] holding h' in columns [0, H) and c' in [H, 2H):
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
// One differentiable op with its own backward, instead of the eleven ops of the composite.
Tensor lstm_pointwise(const Tensor& gates, const Tensor& c);

}  // namespace atto
