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

// A whole LSTM layer (one direction) as one op (CPU or CUDA), given the input projection of every step:
//   xw [T, B, 4H] = x_t W_ih^T + b_ih for all t,  h0, c0 [B, H],  w_hh [4H, H],  b_hh [4H] or undefined
// -> [T, B, 2H]: h_t in columns [0, H), c_t in [H, 2H). `reverse` walks t from T-1 down to 0 (the
// reverse direction of a bidirectional layer). Each step is the same gemm and lstm_pointwise as
// the per-step composite; the backward is what makes it worth it: dW_hh and db_hh are one gemm
// and one row sum over all T steps instead of T small ones accumulated, and the gradient of xw
// is one buffer instead of T slices scattered into it.
Tensor lstm_sequence(const Tensor& xw, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                     bool reverse = false);

}  // namespace atto
