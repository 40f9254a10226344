// autograd/functions/attention.cpp -- scaled dot-product, additive and cosine attention
// (attention.h) as composites of differentiable ops: no backward of their own, autograd chains the
// ops' backwards. Each line carries the shape it produces; "..." are the broadcast batch dims.
#include "autograd/functions/attention.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/matmul.h"
#include "autograd/functions/nn_functional.h"
#include "autograd/functions/reduce.h"
#include "autograd/grad_mode.h"

namespace atto {

namespace {

// The batch dims of x (all but the last `matrix_dims`).
Shape batch_of(const Tensor& x, int matrix_dims) {
  return Shape(std::span<const int64_t>(x.shape().begin(), size_t(x.ndim() - matrix_dims)));
}

// NumPy broadcasting of two shapes, as a yes/no (the callers' messages show the full shapes).
bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.size(), b.size()); ++i) {
    int64_t x = a[a.size() - i], y = b[b.size() - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}

// The broadcast batch dims of three operands whose last `m0`, `m1`, `m2` dims are matrix/vector dims.
Shape broadcast_batch(const Tensor& a, int m0, const Tensor& b, int m1, const Tensor& c, int m2, const char* op) {
  Shape ba = batch_of(a, m0), bb = batch_of(b, m1), bc = batch_of(c, m2);
  bool ok = broadcastable(ba, bb) && broadcastable(ba, bc) && broadcastable(bb, bc);
  ATTO_CHECK(ok, "[{}] batch dims do not broadcast: shapes {}, {} and {}", op, a.shape(), b.shape(), c.shape());
  return broadcast_shapes(broadcast_shapes(ba, bb, op), bc, op);
}

void check_floating_same(const Tensor& a, const Tensor& b, const char* what_a, const char* what_b, const char* op) {
  ATTO_CHECK(a.is_floating_point() && a.dtype() == b.dtype(),
             "[{}] {} and {} must share one floating dtype, got {} {} and {} {}", op, what_a, what_b, a.dtype(),
             a.shape(), b.dtype(), b.shape());
  check_same_device(a, b, op);
}

// NOTE [ Attention masks ]: checks that `mask` broadcasts to `scores_shape` without enlarging it
// and is bool or of the scores' dtype.
void check_mask(const Tensor& mask, const Shape& scores_shape, DType dtype, const char* op, const char* what) {
  ATTO_CHECK(mask.dtype() == kBool || mask.dtype() == dtype,
             "[{}] {} must be bool or {} (the query's dtype), got {} of shape {}", op, what, dtype, mask.dtype(),
             mask.shape());
  // It may broadcast, but not enlarge the scores: PyTorch adds it in place.
  bool ok = mask.ndim() <= scores_shape.size() && broadcastable(mask.shape(), scores_shape) &&
            broadcast_shapes(mask.shape(), scores_shape, op) == scores_shape;
  ATTO_CHECK(ok, "[{}] {} of shape {} is not broadcastable to the attention scores' shape {}", op, what,
             mask.shape(), scores_shape);
}

// The scores with the mask applied: -inf where a bool mask is false, plus a float mask.
Tensor apply_mask(const Tensor& scores, const Tensor& mask) {
  if (!mask.defined()) return scores;
  if (mask.dtype() == kBool) return masked_fill(scores, logical_not(mask), -INFINITY);
  return add(scores, mask);
}

// softmax over the last dim, with NOTE [ Fully masked rows ]: under Zero, a row whose scores are all
// -inf gets weights 0. Such a row is filled with 0s before the softmax (a harmless uniform row, not
// NaN) and its weights are then replaced by 0, so no NaN reaches the forward or the backward: where
// passes no gradient into the replaced row and masked_fill none into the filled scores.
Tensor masked_softmax(const Tensor& scores, bool may_have_masked_rows, FullyMaskedRows policy) {
  if (!may_have_masked_rows || policy == FullyMaskedRows::NaN || scores.numel() == 0) return softmax(scores, -1);
  Tensor dead;   // (..., L, 1) bool: rows whose every score is -inf
  {
    NoGradGuard no_grad;
    dead = eq(max(scores, -1, /*keepdim=*/true).values, -INFINITY);
  }
  Tensor w = softmax(masked_fill(scores, dead, 0.0), -1);   // (..., L, S)
  return where(dead, 0.0, w);                                // (..., L, S)
}

}  // namespace

AttentionOutput attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                       double dropout_p, bool is_causal, std::optional<double> scale, Generator* gen,
                                       FullyMaskedRows fully_masked) {
  constexpr const char* op = "scaled_dot_product_attention";
  ATTO_CHECK(q.ndim() >= 2 && k.ndim() >= 2 && v.ndim() >= 2,
             "[{}] q, k, v need at least 2 dims (..., L, E), (..., S, E), (..., S, Ev), got q {} k {} v {}", op,
             q.shape(), k.shape(), v.shape());
  check_floating_same(q, k, "q", "k", op);
  check_floating_same(q, v, "q", "v", op);
  const int64_t L = q.size(-2), E = q.size(-1), S = k.size(-2);
  ATTO_CHECK(k.size(-1) == E, "[{}] q's last dim {} must equal k's last dim {}: q {} k {}", op, E, k.size(-1),
             q.shape(), k.shape());
  ATTO_CHECK(v.size(-2) == S, "[{}] k and v need the same number of keys S (dim -2), got k {} v {}", op, k.shape(),
             v.shape());
  Shape batch = broadcast_batch(q, 2, k, 2, v, 2, op);
  Shape scores_shape = batch;
  scores_shape.push_back(L);
  scores_shape.push_back(S);
  ATTO_CHECK(!(is_causal && attn_mask.defined()),
             "[{}] pass either attn_mask (shape {}) or is_causal, not both (as PyTorch)", op, attn_mask.shape());
  if (attn_mask.defined()) {
    check_mask(attn_mask, scores_shape, q.dtype(), op, "attn_mask");
    check_same_device(q, attn_mask, op);
  }
  ATTO_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, "[{}] dropout_p must be in [0, 1], got {} (q {})", op, dropout_p,
             q.shape());

  // Causal: query i sees keys j <= i -- PyTorch's ones(L, S).tril().
  Tensor mask = attn_mask;   // (causal rows always see key 0: none is fully masked)
  if (is_causal) {
    Tensor i = arange(double(L), {.dtype = kInt64, .device = q.device()}).unsqueeze(1);   // (L, 1)
    Tensor j = arange(double(S), {.dtype = kInt64, .device = q.device()});                // (S)
    mask = ge(i, j);                                                                       // (L, S) bool
  }
  const double s = scale.value_or(1.0 / std::sqrt(double(E)));

  Tensor scores = matmul(mul(q, s), k.transpose(-2, -1));             // (..., L, E) @ (..., E, S) -> (..., L, S)
  scores = apply_mask(scores, mask);                                  // (..., L, S)
  Tensor weights = masked_softmax(scores, attn_mask.defined(), fully_masked);   // (..., L, S), rows sum to 1
  Tensor dropped = dropout(weights, dropout_p, true, gen);            // (..., L, S)
  Tensor out = matmul(dropped, v);                                    // (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
  return {out, weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale, Generator* gen,
                                    FullyMaskedRows fully_masked) {
  return attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, scale, gen, fully_masked).output;
}

AttentionOutput additive_attention_projected(const Tensor& pq, const Tensor& pk, const Tensor& values,
                                             const Tensor& v_a, const Tensor& mask) {
  constexpr const char* op = "additive_attention";
  ATTO_CHECK(pq.ndim() >= 1 && pk.ndim() >= 2 && values.ndim() >= 2 && v_a.ndim() == 1,
             "[{}] expects projected query (..., H), projected keys (..., S, H), values (..., S, Dv) and v (H), "
             "got {} {} {} {}",
             op, pq.shape(), pk.shape(), values.shape(), v_a.shape());
  check_floating_same(pq, pk, "query", "keys", op);
  check_floating_same(pq, values, "query", "values", op);
  check_floating_same(pq, v_a, "query", "v", op);
  const int64_t H = v_a.size(0), S = pk.size(-2);
  ATTO_CHECK(pq.size(-1) == H && pk.size(-1) == H,
             "[{}] the projected query {} and keys {} must both end in v's size H = {}", op, pq.shape(), pk.shape(),
             H);
  ATTO_CHECK(values.size(-2) == S, "[{}] keys {} and values {} need the same number S of positions (dim -2)", op,
             pk.shape(), values.shape());
  Shape batch = broadcast_batch(pq, 1, pk, 2, values, 2, op);
  Shape scores_shape = batch;
  scores_shape.push_back(S);
  if (mask.defined()) {
    check_mask(mask, scores_shape, pq.dtype(), op, "mask");
    check_same_device(pq, mask, op);
  }

  Tensor e = tanh(add(pq.unsqueeze(-2), pk));                  // (..., 1, H) + (..., S, H) -> (..., S, H)
  Tensor scores = matmul(e, v_a);                              // (..., S, H) @ (H) -> (..., S)
  scores = apply_mask(scores, mask);                           // (..., S)
  Tensor weights = masked_softmax(scores, mask.defined(), FullyMaskedRows::Zero);   // (..., S)
  Tensor context = matmul(weights.unsqueeze(-2), values).squeeze(-2);   // (..., 1, S) @ (..., S, Dv) -> (..., Dv)
  return {context, weights};
}

AttentionOutput additive_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& w_q,
                                   const Tensor& w_k, const Tensor& v_a, const Tensor& mask) {
  constexpr const char* op = "additive_attention";
  ATTO_CHECK(query.ndim() >= 1 && keys.ndim() >= 2 && w_q.ndim() == 2 && w_k.ndim() == 2,
             "[{}] expects query (..., Dq), keys (..., S, Dk), w_q (H, Dq), w_k (H, Dk), got {} {} {} {}", op,
             query.shape(), keys.shape(), w_q.shape(), w_k.shape());
  ATTO_CHECK(w_q.size(1) == query.size(-1) && w_k.size(1) == keys.size(-1) && w_q.size(0) == w_k.size(0),
             "[{}] w_q {} must be (H, Dq) for query {} and w_k {} (H, Dk) for keys {}", op, w_q.shape(),
             query.shape(), w_k.shape(), keys.shape());
  ATTO_CHECK(values.ndim() >= 2 && values.size(-2) == keys.size(-2),
             "[{}] keys {} and values {} need the same number S of positions (dim -2)", op, keys.shape(),
             values.shape());
  check_floating_same(query, w_q, "query", "w_q", op);
  check_floating_same(keys, w_k, "keys", "w_k", op);
  Tensor pq = linear(query, w_q);   // (..., Dq) -> (..., H)
  Tensor pk = linear(keys, w_k);    // (..., S, Dk) -> (..., S, H)
  return additive_attention_projected(pq, pk, values, v_a, mask);
}

AttentionOutput cosine_attention(const Tensor& query, const Tensor& keys, const Tensor& values, double temperature,
                                 const Tensor& mask, double eps) {
  constexpr const char* op = "cosine_attention";
  ATTO_CHECK(query.ndim() >= 2 && keys.ndim() >= 2 && values.ndim() >= 2,
             "[{}] expects query (..., L, E), keys (..., S, E), values (..., S, Dv), got {} {} {}", op, query.shape(),
             keys.shape(), values.shape());
  check_floating_same(query, keys, "query", "keys", op);
  check_floating_same(query, values, "query", "values", op);
  ATTO_CHECK(query.size(-1) == keys.size(-1), "[{}] query's last dim {} must equal keys' last dim {}: query {} keys {}",
             op, query.size(-1), keys.size(-1), query.shape(), keys.shape());
  ATTO_CHECK(values.size(-2) == keys.size(-2), "[{}] keys {} and values {} need the same number S of keys (dim -2)",
             op, keys.shape(), values.shape());
  ATTO_CHECK(temperature > 0.0, "[{}] temperature must be > 0, got {} (query {})", op, temperature, query.shape());
  Shape batch = broadcast_batch(query, 2, keys, 2, values, 2, op);
  Shape scores_shape = batch;
  scores_shape.push_back(query.size(-2));
  scores_shape.push_back(keys.size(-2));
  if (mask.defined()) {
    check_mask(mask, scores_shape, query.dtype(), op, "mask");
    check_same_device(query, mask, op);
  }

  Tensor qn = div(query, clamp_min(norm(query, 2.0, {-1}, true), eps));   // (..., L, E) / (..., L, 1): unit rows
  Tensor kn = div(keys, clamp_min(norm(keys, 2.0, {-1}, true), eps));      // (..., S, E) / (..., S, 1)
  Tensor cos = matmul(qn, kn.transpose(-2, -1));                           // (..., L, S), each in [-1, 1]
  Tensor scores = apply_mask(div(cos, temperature), mask);                 // (..., L, S)
  Tensor weights = masked_softmax(scores, mask.defined(), FullyMaskedRows::Zero);   // (..., L, S)
  Tensor out = matmul(weights, values);                                    // (..., L, S) @ (..., S, Dv) -> (..., L, Dv)
  return {out, weights};
}

}  // namespace atto
