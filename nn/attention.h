// nn/attention.h -- nn::MultiheadAttention and the Transformer encoder (TransformerEncoderLayer,
// TransformerEncoder), mirroring PyTorch 1.13's modules: same options and defaults, same parameter
// and child names (state dicts move between the two unchanged), same shapes and mask conventions.
// Implemented in attention.cpp on top of attention_with_weights (autograd/functions/attention.h).
//
// NOTE [ MultiheadAttention masks ]
// As nn.MultiheadAttention (and unlike scaled_dot_product_attention), a bool mask means
// true = NOT allowed to attend; a float mask is added to the scores (-inf = not allowed).
//   attn_mask         (L, S), or (N * num_heads, L, S) for one mask per batch element and head;
//   key_padding_mask  (N, S): true (or -inf) marks padding keys of batch element n.
// Both are merged into one mask as PyTorch 1.13 does (logical or of bool masks; a bool padding mask
// fills a float attn_mask with -inf; float masks add).
// A query row whose keys are all masked out: PyTorch 1.13 gives NaN (weights, the output rows of
// that batch element and the gradients). We do the same by default (fully_masked_rows = NaN), for
// parity; FullyMaskedRows::Zero gives that row weights 0, so its attention output is 0 and the
// output row is out_proj's bias (NOTE [ Fully masked rows ] in attention.h).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "autograd/functions/attention.h"
#include "nn/containers.h"
#include "nn/layers.h"

namespace atto::nn {

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0, num_heads = 1;
  double dropout = 0.0;   // on the attention weights, while training
  bool bias = true;       // in_proj_bias and out_proj.bias
  int64_t kdim = 0, vdim = 0;   // 0: embed_dim
  bool batch_first = false;     // (N, L, E) instead of (L, N, E)
  FullyMaskedRows fully_masked_rows = FullyMaskedRows::NaN;   // NOTE [ MultiheadAttention masks ]
  Generator* generator = nullptr;   // for dropout; null: the default generator
};

// Multi-head attention (Vaswani et al.): the query, key and value are projected, split into
// num_heads heads of embed_dim / num_heads features, each head attends (scaled dot product), and
// the heads are merged and projected by out_proj.
//
// Parameters (PyTorch's names): when kdim == vdim == embed_dim, in_proj_weight (3E, E) holds the q, k
// and v projections stacked; otherwise q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight
// (E, vdim). in_proj_bias (3E) if bias. Child out_proj: Linear(E, E, bias). Init as PyTorch:
// xavier_uniform_ on the projection weights, zero biases, out_proj.weight as Linear's.
// Not supported: add_bias_kv, add_zero_attn.
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& o);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads) : MultiheadAttention(MultiheadAttentionOptions{embed_dim, num_heads}) {}
  void reset_parameters();

  // query (L, N, E), key (S, N, kdim), value (S, N, vdim) -- (N, L, E) ... when batch_first, or
  // unbatched (L, E), (S, kdim), (S, vdim). Returns output shaped like query and, if need_weights,
  // the weights (N, L, S) averaged over heads or (N, num_heads, L, S) (unbatched: without N); else
  // an undefined weights tensor. As in PyTorch, the weights are returned after dropout (in training
  // with dropout > 0), so out = weights @ v per head. is_causal makes query i see keys 0..i only.
  // With an attn_mask too it is a hint, as in PyTorch 2.x: the mask must then be the causal one,
  // and without a key_padding_mask it is not read (the causal softmax needs none).
  // Masks: NOTE [ MultiheadAttention masks ].
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true, const Tensor& attn_mask = {},
                          bool average_attn_weights = true, bool is_causal = false);
  // forward, then the hooks on the output.
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& key_padding_mask = {}, bool need_weights = true,
                             const Tensor& attn_mask = {}, bool average_attn_weights = true, bool is_causal = false);

  MultiheadAttentionOptions options;
  int64_t head_dim;
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
};

// ---- Transformer encoder -----------------------------------------------------------------------------

enum class Activation { ReLU, GELU };

struct TransformerEncoderLayerOptions {
  int64_t d_model = 0, nhead = 1;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  Activation activation = Activation::ReLU;
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;   // pre-norm (x + sa(norm1(x))) instead of post-norm (norm1(x + sa(x)))
};

// One encoder layer: self-attention then a feed-forward block, each with a residual connection and
// a LayerNorm. Children as PyTorch: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
//   post-norm: x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
//   pre-norm:  x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
//   ff(x) = linear2(dropout(activation(linear1(x))))
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& o);
  // src (S, N, d_model) or (N, S, d_model) when batch_first; masks and is_causal (a hint that
  // src_mask is the causal mask, as in PyTorch 2.x) as MultiheadAttention's.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                    bool is_causal = false) {
    return run_hooks(forward(src, src_mask, src_key_padding_mask, is_causal));
  }

  TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& key_padding_mask, bool is_causal);
  Tensor feed_forward_block(const Tensor& x);
};

// A stack of num_layers encoder layers (children "layers.0", "layers.1", ...) and an optional final
// norm (child "norm"). From options, every layer starts with the same weights, as PyTorch's
// deep copies of one layer; a factory builds each layer itself.
class TransformerEncoder : public Module {
 public:
  using LayerFactory = std::function<std::shared_ptr<TransformerEncoderLayer>()>;
  TransformerEncoder(const TransformerEncoderLayerOptions& layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  TransformerEncoder(const LayerFactory& factory, int64_t num_layers, std::shared_ptr<LayerNorm> norm = nullptr);
  // is_causal: whether `mask` is the causal mask; unset, it is detected (is_causal_mask), as
  // PyTorch 2.x's TransformerEncoder does, and the layers then run the causal softmax.
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = {},
                 std::optional<bool> is_causal = std::nullopt);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  Tensor operator()(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {},
                    std::optional<bool> is_causal = std::nullopt) {
    return run_hooks(forward(src, mask, src_key_padding_mask, is_causal));
  }
  std::shared_ptr<TransformerEncoderLayer> layer(size_t i) const { return layers->at<TransformerEncoderLayer>(i); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;   // null: none
};

// Whether `mask` is exactly the (L, L) causal mask in PyTorch's convention: true (bool) or -inf
// (float) above the diagonal -- key j > query i -- and false / 0 on and below it (PyTorch 2.x's
// _detect_is_causal_mask, which knows the float form only). A mask that requires grad is not. Then
// the causal softmax gives the same bits as applying the mask (tests/nn/test_transformer.cpp).
bool is_causal_mask(const Tensor& mask);

}  // namespace atto::nn
