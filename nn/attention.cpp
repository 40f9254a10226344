// nn/attention.cpp -- see attention.h. Each step of MultiheadAttention::forward carries the shapes
// it produces: L queries, S keys, N batch elements, H heads of hd = E / H features.
#include "nn/attention.h"

#include <cmath>
#include <vector>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/fused.h"
#include "autograd/functions/matmul.h"
#include "autograd/functions/nn_functional.h"
#include "autograd/functions/reduce.h"
#include "nn/init.h"

namespace atto::nn {

// ---- MultiheadAttention --------------------------------------------------------------------------------

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& o) : Module("MultiheadAttention"), options(o) {
  const int64_t E = o.embed_dim;
  ATTO_CHECK(E > 0 && o.num_heads > 0, "[MultiheadAttention] embed_dim and num_heads must be positive, got {} and {}", E,
             o.num_heads);
  ATTO_CHECK(E % o.num_heads == 0, "[MultiheadAttention] embed_dim {} must be divisible by num_heads {}", E, o.num_heads);
  ATTO_CHECK(o.dropout >= 0 && o.dropout <= 1, "[MultiheadAttention] dropout must be in [0, 1], got {}", o.dropout);
  if (options.kdim == 0) options.kdim = E;
  if (options.vdim == 0) options.vdim = E;
  head_dim = E / o.num_heads;
  if (options.kdim == E && options.vdim == E) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({E, E}));
    k_proj_weight = register_parameter("k_proj_weight", empty({E, options.kdim}));
    v_proj_weight = register_parameter("v_proj_weight", empty({E, options.vdim}));
  }
  if (o.bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * E}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, o.bias));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
}

namespace {

// NOTE [ MultiheadAttention masks ]: merges attn_mask (L, S) or (N, H, L, S) and the key padding mask
// (N, 1, 1, S), both in PyTorch's convention (bool true / float -inf = not allowed), into one mask for
// attention_with_weights, whose bool convention is the opposite (true = allowed).
Tensor merge_masks(const Tensor& attn, const Tensor& pad) {
  Tensor m;
  if (!attn.defined() || !pad.defined()) {
    m = attn.defined() ? attn : pad;
  } else if (attn.dtype() == kBool && pad.dtype() == kBool) {
    m = logical_or(attn, pad);                     // (N, 1 or H, L, S)
  } else if (attn.dtype() == kBool) {
    m = where(attn, Scalar(-INFINITY), pad);       // (N, 1 or H, L, S) float
  } else if (pad.dtype() == kBool) {
    m = where(pad, Scalar(-INFINITY), attn);       // (N, 1 or H, L, S) float
  } else {
    m = add(attn, pad);
  }
  if (m.defined() && m.dtype() == kBool) m = logical_not(m);
  return m;
}

void check_mask_dtype(const Tensor& m, const char* what) {
  ATTO_CHECK(m.dtype() == kBool || m.is_floating_point(), "[MultiheadAttention] {} must be bool or floating, got {} of shape {}",
             what, m.dtype(), m.shape());
}

}  // namespace

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights, const Tensor& attn_mask,
                                            bool average_attn_weights, bool is_causal) {
  const int64_t E = options.embed_dim, H = options.num_heads, hd = head_dim;
  const bool batched = query.ndim() == 3;
  ATTO_CHECK((query.ndim() == 3 || query.ndim() == 2) && key.ndim() == query.ndim() && value.ndim() == query.ndim(),
             "[MultiheadAttention] query, key and value must all be 3-d (batched) or 2-d (unbatched), got {}, {}, {}",
             query.shape(), key.shape(), value.shape());
  ATTO_CHECK(query.size(-1) == E && key.size(-1) == options.kdim && value.size(-1) == options.vdim,
             "[MultiheadAttention] expected last dims embed_dim {}, kdim {}, vdim {}; got query {}, key {}, value {}", E,
             options.kdim, options.vdim, query.shape(), key.shape(), value.shape());

  // Batched, in the caller's layout: seq-first (L, N, E), (S, N, kdim), (S, N, vdim), or batch-first
  // (N, L, E), ... Nothing is transposed: the heads are views of the projections in this layout.
  Tensor q_in = query, k_in = key, v_in = value, pad_in = key_padding_mask;
  if (!batched) {                                      // (L, E) is seq-first with N = 1
    q_in = query.unsqueeze(1);
    k_in = key.unsqueeze(1);
    v_in = value.unsqueeze(1);
    if (pad_in.defined()) pad_in = pad_in.unsqueeze(0);
  }
  const bool batch_dim_first = batched && options.batch_first;
  const int bd = batch_dim_first ? 0 : 1, sd = 1 - bd;   // the batch dim and the sequence dim
  const int64_t L = q_in.size(sd), N = q_in.size(bd), S = k_in.size(sd);
  ATTO_CHECK(k_in.size(sd) == v_in.size(sd) && k_in.size(bd) == N && v_in.size(bd) == N,
             "[MultiheadAttention] key and value must have the same sequence length and query's batch size: query {}, "
             "key {}, value {}",
             query.shape(), key.shape(), value.shape());

  // Masks in PyTorch's convention, shaped to broadcast against the scores (N, H, L, S).
  Tensor attn = attn_mask, pad;
  // is_causal without a key_padding_mask goes down as is_causal (attention's causal softmax needs no
  // mask; an attn_mask given with it is the causal mask, PyTorch 2.x's hint, and is not read).
  // With a key_padding_mask the causal mask is applied explicitly, merged with it.
  const bool causal_only = is_causal && !key_padding_mask.defined();
  if (is_causal && !attn.defined() && key_padding_mask.defined())   // query i must not see keys j > i
    attn = causal_hidden_keys(L, S, query.device());                // (L, S) bool
  if (attn.defined()) {
    check_mask_dtype(attn, "attn_mask");
    bool ok = (attn.ndim() == 2 && attn.size(0) == L && attn.size(1) == S) ||
              (attn.ndim() == 3 && attn.size(0) == N * H && attn.size(1) == L && attn.size(2) == S);
    ATTO_CHECK(ok, "[MultiheadAttention] attn_mask must be (L, S) = ({}, {}) or (N * num_heads, L, S) = ({}, {}, {}), got {}",
               L, S, N * H, L, S, attn.shape());
    if (causal_only) attn = Tensor();                               // the causal softmax stands for it
    else if (attn.ndim() == 3) attn = attn.reshape({N, H, L, S});   // row n * H + h is batch n, head h
    if (attn.defined() && attn.is_floating_point()) attn = attn.to(query.dtype());
  }
  if (pad_in.defined()) {
    check_mask_dtype(pad_in, "key_padding_mask");
    ATTO_CHECK(pad_in.ndim() == 2 && pad_in.size(0) == N && pad_in.size(1) == S,
               "[MultiheadAttention] key_padding_mask must be (N, S) = ({}, {}), got {}", N, S, key_padding_mask.shape());
    pad = pad_in.reshape({N, 1, 1, S});                            // every head, every query
    if (pad.is_floating_point()) pad = pad.to(query.dtype());
  }

  // 1. Project: the q, k, v weights are the three row blocks of in_proj_weight, or separate. q is
  // scaled here by 1/sqrt(hd), as PyTorch does, rather than inside the attention: scaled in place
  // of a head view it would come back as a copy.
  Tensor wq = q_proj_weight, wk = k_proj_weight, wv = v_proj_weight, bq, bk, bv;
  if (in_proj_weight.defined()) {
    wq = in_proj_weight.narrow(0, 0, E);
    wk = in_proj_weight.narrow(0, E, E);
    wv = in_proj_weight.narrow(0, 2 * E, E);
  }
  if (in_proj_bias.defined()) {
    bq = in_proj_bias.narrow(0, 0, E);
    bk = in_proj_bias.narrow(0, E, E);
    bv = in_proj_bias.narrow(0, 2 * E, E);
  }
  Tensor q = mul(linear(q_in, wq, bq), 1.0 / std::sqrt(double(hd)));   // (L, N, E) or (N, L, E)
  Tensor k = linear(k_in, wk, bk);                                      // (S, N, E) or (N, S, E)
  Tensor v = linear(v_in, wv, bv);                                      // (S, N, E) or (N, S, E)

  // 2. Split heads: features [h * hd, (h + 1) * hd) are head h. Views, no copies: gemm reads the
  // heads in place, and matmul's backward writes their gradients in this layout.
  auto split_heads = [&](const Tensor& t) {                    // -> (N, H, len, hd)
    Tensor t4 = t.reshape({t.size(0), t.size(1), H, hd});      // (len, N, H, hd) or (N, len, H, hd)
    return batch_dim_first ? t4.permute({0, 2, 1, 3}) : t4.permute({1, 2, 0, 3});
  };
  q = split_heads(q);   // (N, H, L, hd)
  k = split_heads(k);   // (N, H, S, hd)
  v = split_heads(v);   // (N, H, S, hd)

  // 3. Attention per head: dropout(softmax(q k^T + mask)) v.
  const bool drop = is_training() && options.dropout > 0;
  Tensor ctx, weights;   // ctx (N, H, L, hd), weights (N, H, L, S)
  if (!need_weights && !drop) {
    // No weights wanted: the same composite on the CPU, and on CUDA the fused kernels where they
    // apply (NOTE [ Fused attention on CUDA ] in autograd/functions/attention.cpp).
    ctx = scaled_dot_product_attention(q, k, v, merge_masks(attn, pad), 0.0, causal_only, 1.0, options.generator,
                                       options.fully_masked_rows);
  } else {
    AttentionOutput a = attention_with_weights(q, k, v, merge_masks(attn, pad), 0.0, causal_only, 1.0,
                                               options.generator, options.fully_masked_rows);
    ctx = a.output;
    weights = a.weights;
  }
  if (drop) {
    // PyTorch returns the weights after dropout, attention_with_weights before: drop them here
    // and redo the product with v.
    weights = dropout(weights, options.dropout, true, options.generator);   // (N, H, L, S)
    ctx = matmul(weights, v);                                                // (N, H, L, hd)
  }

  // 4. Merge heads (the one copy) and project, back in the caller's layout.
  Tensor out = batch_dim_first ? ctx.permute({0, 2, 1, 3}).reshape({N, L, E})    // (N, L, E)
                               : ctx.permute({2, 0, 1, 3}).reshape({L, N, E});   // (L, N, E)
  out = linear(out, out_proj->weight, out_proj->bias);
  if (!batched) out = out.squeeze(1);                           // (L, E)

  if (!need_weights) return {out, Tensor()};
  if (average_attn_weights) weights = mean(weights, {1});       // (N, L, S)
  if (!batched) weights = weights.squeeze(0);                   // (L, S) or (H, L, S)
  return {out, weights};
}

AttentionOutput MultiheadAttention::operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                               const Tensor& key_padding_mask, bool need_weights,
                                               const Tensor& attn_mask, bool average_attn_weights, bool is_causal) {
  AttentionOutput r = forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  r.output = run_hooks(r.output);
  return r;
}

// ---- TransformerEncoderLayer ----------------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& o)
    : Module("TransformerEncoderLayer"), options(o) {
  MultiheadAttentionOptions ao;
  ao.embed_dim = o.d_model;
  ao.num_heads = o.nhead;
  ao.dropout = o.dropout;
  ao.batch_first = o.batch_first;
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(ao));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& key_padding_mask,
                                                     bool is_causal) {
  Tensor y = (*self_attn)(x, x, x, key_padding_mask, /*need_weights=*/false, mask, true, is_causal).output;
  return (*dropout1)(y);
}

Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) {
  Tensor h;   // (..., dim_feedforward)
  const bool gelu_act = options.activation == Activation::GELU;
  if (gelu_act && x.device().is_cuda() && linear1->bias.defined() && !linear1->has_hooks()) {
    h = bias_gelu(linear(x, linear1->weight), linear1->bias);   // bias and GELU in one kernel (fused.h)
  } else {
    h = (*linear1)(x);
    h = gelu_act ? gelu(h) : relu(h);
  }
  return (*dropout2)((*linear2)((*dropout)(h)));   // (..., d_model)
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask,
                                        bool is_causal) {
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, self_attention_block((*norm1)(x), src_mask, src_key_padding_mask, is_causal));
    x = add(x, feed_forward_block((*norm2)(x)));
  } else {
    x = (*norm1)(add(x, self_attention_block(x, src_mask, src_key_padding_mask, is_causal)));
    x = (*norm2)(add(x, feed_forward_block(x)));
  }
  return x;
}

// ---- TransformerEncoder -------------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const LayerFactory& factory, int64_t num_layers, std::shared_ptr<LayerNorm> final_norm)
    : Module("TransformerEncoder") {
  ATTO_CHECK(num_layers > 0, "[TransformerEncoder] num_layers must be positive, got {}", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(factory());
  if (final_norm) norm = register_module("norm", std::move(final_norm));
}

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayerOptions& layer, int64_t num_layers,
                                       std::shared_ptr<LayerNorm> final_norm)
    : TransformerEncoder([&] { return std::make_shared<TransformerEncoderLayer>(layer); }, num_layers,
                         std::move(final_norm)) {
  StateDict first = this->layer(0)->state_dict();   // PyTorch deep-copies one layer
  for (int64_t i = 1; i < num_layers; ++i) this->layer(size_t(i))->load_state_dict(first);
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask,
                                   std::optional<bool> is_causal) {
  const bool causal = is_causal.has_value() ? *is_causal : is_causal_mask(mask);   // value_or would always detect
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i) x = (*layer(i))(x, mask, src_key_padding_mask, causal);
  return norm ? (*norm)(x) : x;
}

bool is_causal_mask(const Tensor& mask) {
  if (!mask.defined() || mask.ndim() != 2 || mask.size(0) != mask.size(1) || mask.requires_grad() ||
      !(mask.dtype() == kBool || mask.is_floating_point()))
    return false;
  const int64_t L = mask.size(0);
  const double hidden = mask.dtype() == kBool ? 1.0 : -INFINITY;   // what marks key j > query i
  const std::vector<double> m = mask.to(kFloat64).to_vector<double>();
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j)
      if (m[size_t(i * L + j)] != (j > i ? hidden : 0.0)) return false;
  return true;
}

}  // namespace atto::nn
