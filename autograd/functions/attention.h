// autograd/functions/attention.h -- attention as differentiable functions: scaled dot-product
// attention (torch.nn.functional.scaled_dot_product_attention), the same returning its weights, and
// two teaching variants, additive (Bahdanau) and cosine-similarity attention. Implemented in
// attention.cpp as readable composites of existing ops (matmul, masked_fill, softmax, dropout), so
// autograd differentiates them with no backward of their own; they are the oracle for the fused
// CUDA kernels of scaled_dot_product_attention (cuda/attention.h). docs/attention.md explains them
// with the shapes.
//
// NOTE [ Attention masks ]
// Every function here takes an optional mask, broadcastable to the scores (..., L, S) -- one row of
// S keys per query -- and never enlarging them:
//   * bool:  true = the key takes part, false = it is masked out (score set to -inf);
//   * float (the query's dtype): added to the scores (0 = take part, -inf = masked out, anything in
//     between biases the score).
// This is PyTorch 2.x's sdpa convention. Beware: nn.MultiheadAttention's bool masks mean the
// opposite (true = masked out): a module mirroring it must invert them (logical_not) first.
//
// NOTE [ Fully masked rows ]
// A query whose scores are all -inf (every key masked out) has no softmax: exp(-inf) / sum = 0 / 0.
// What PyTorch does:
//   * 1.13: F.multi_head_attention_forward and the private F._scaled_dot_product_attention give NaN
//     for that row (weights and output), and NaN gradients flow back into q, k and v.
//   * 2.0 - 2.4: F.scaled_dot_product_attention's math path also gives NaN.
//   * 2.5 and later: F.scaled_dot_product_attention uses a "safe softmax" (pytorch/pytorch#133882):
//     a row whose scores are all -inf gets weights 0, so the output row is 0 and the gradients
//     through it are 0. (nn.MultiheadAttention with need_weights=True still runs a plain softmax
//     and gives NaN.)
// We follow 2.5+ by default (FullyMaskedRows::Zero): the weights, output and gradients of such a row
// are 0, never NaN. FullyMaskedRows::NaN reproduces the plain softmax (1.13's behaviour), for parity
// tests against older PyTorch. Only rows that are exactly -inf everywhere count: a large finite
// negative mask value (-1e9) gives an ordinary, uniform softmax, in PyTorch as here.
#pragma once
#include <optional>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace atto {

// What a query row with every key masked out gives (NOTE [ Fully masked rows ]).
enum class FullyMaskedRows {
  Zero,   // weights, output and gradients 0 (PyTorch >= 2.5 sdpa)
  NaN,    // the plain softmax's NaN (PyTorch 1.13, and 2.0 - 2.4 sdpa)
};

// An attention result: the output (context vectors) and the attention weights after softmax
// (before any dropout), one row of S weights per query, each row summing to 1.
struct AttentionOutput {
  Tensor output, weights;
};

// torch.nn.functional.scaled_dot_product_attention (PyTorch 2.x, the math path):
//
//   out = dropout(softmax(q @ k^T * scale + mask), dropout_p) @ v
//
//   q (..., L, E), k (..., S, E), v (..., S, Ev) -> out (..., L, Ev); the batch dims "..." of q, k and
//   v broadcast (NumPy rules), so one k/v can serve many q. q, k, v share one floating dtype.
//   attn_mask   optional, NOTE [ Attention masks ]; broadcastable to (..., L, S).
//   dropout_p   dropout on the weights, applied whenever > 0 (as PyTorch: there is no training
//               flag; pass 0 in evaluation). `gen` draws its mask (null: the default generator).
//   is_causal   query i sees keys 0..i only (a lower-triangular L x S mask, aligned top-left as
//               PyTorch's tril); an error together with attn_mask, as in PyTorch.
//   scale       defaults to 1 / sqrt(E).
//   fully_masked  NOTE [ Fully masked rows ].
// On CUDA it runs fused FlashAttention-style kernels (the L x S weights are never stored) where they
// apply -- no dropout, head dims <= 128, the Zero policy when there is a mask -- and the composite
// otherwise: NOTE [ Fused attention on CUDA ] in attention.cpp.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask = {},
                                    double dropout_p = 0.0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt, Generator* gen = nullptr,
                                    FullyMaskedRows fully_masked = FullyMaskedRows::Zero);

// The same, also returning the weights (..., L, S) -- after softmax, before dropout: what an
// attention map should show. (nn.MultiheadAttention returns them after dropout, as PyTorch does;
// nn/attention.cpp applies the dropout itself.)
AttentionOutput attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask = {},
                                       double dropout_p = 0.0, bool is_causal = false,
                                       std::optional<double> scale = std::nullopt, Generator* gen = nullptr,
                                       FullyMaskedRows fully_masked = FullyMaskedRows::Zero);

// Additive (Bahdanau) attention: one query against S keys,
//
//   score_j = v_a . tanh(W_q q + W_k k_j),   weights = softmax(score),   context = sum_j weights_j values_j
//
//   query (..., Dq), keys (..., S, Dk), values (..., S, Dv), w_q (H, Dq), w_k (H, Dk), v_a (H)
//   -> output = context (..., Dv), weights (..., S). The batch dims broadcast: for L queries at once
//   pass query (B, L, Dq) with keys (B, 1, S, Dk) and values (B, 1, S, Dv).
//   mask: NOTE [ Attention masks ], broadcastable to (..., S). Fully masked rows give 0 (Zero policy).
AttentionOutput additive_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& w_q,
                                   const Tensor& w_k, const Tensor& v_a, const Tensor& mask = {});

// The same from already projected tensors, pq = W_q q (..., H) and pk = W_k k (..., S, H): a decoder
// that attends to the same encoder states at every step projects the keys once.
AttentionOutput additive_attention_projected(const Tensor& pq, const Tensor& pk, const Tensor& values,
                                             const Tensor& v_a, const Tensor& mask = {});

// Cosine-similarity attention: scores are cosines, so every score is in [-1, 1] and the temperature
// alone sets how peaked the weights can be,
//
//   weights = softmax(cos(q_i, k_j) / temperature),   out = weights @ values
//
//   query (..., L, E), keys (..., S, E), values (..., S, Dv) -> output (..., L, Dv), weights (..., L, S);
//   batch dims broadcast. cos(q, k) = (q / max(|q|, eps)) . (k / max(|k|, eps)) (F.normalize on
//   both), which is F.cosine_similarity when neither norm is below eps; a zero vector scores 0.
//   temperature > 0. mask: NOTE [ Attention masks ], broadcastable to (..., L, S); fully masked
//   rows give 0 (Zero policy).
AttentionOutput cosine_attention(const Tensor& query, const Tensor& keys, const Tensor& values,
                                 double temperature = 1.0, const Tensor& mask = {}, double eps = 1e-8);

}  // namespace atto
