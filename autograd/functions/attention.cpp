// autograd/functions/attention.cpp -- scaled dot-product, additive and cosine attention
// (attention.h) as composites of differentiable ops: no backward of their own, autograd chains the
// ops' backwards. Each line carries the shape it produces; "..." are the broadcast batch dims.
// On CUDA, scaled_dot_product_attention runs the fused kernels of cuda/attention.h instead where it
// can (NOTE [ Fused attention on CUDA ]); the composite stays the reference and the CPU path.
#include "autograd/functions/attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

#include "autograd/function.h"
#include "autograd/functions/elementwise.h"
#include "autograd/functions/matmul.h"
#include "autograd/functions/nn_functional.h"
#include "autograd/functions/reduce.h"
#include "autograd/grad_mode.h"
#include "cuda/attention.h"
#include "tensor/dispatch.h"

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

// NOTE [ Fused attention on CUDA ]
// scaled_dot_product_attention runs FusedAttention (one forward kernel, three backward kernels:
// cuda/attention.cu, FlashAttention-style, the L x S weights never stored) instead of the composite
// when all of these hold:
//   * q, k, v are on a CUDA device, float32 or float64, none of them empty;
//   * E and Ev (the head dims of q/k and v) are at most 128 (cuda::kAttentionMaxHeadDim);
//   * dropout_p == 0 (the fused kernels have no dropout: with dropout the composite runs);
//   * no attn_mask, or fully_masked == Zero (the fused kernels give a fully masked row output 0 and
//     gradients 0, the Zero policy; the NaN policy runs the composite);
//   * attn_mask, if given, does not require grad (the fused backward gives the mask no gradient).
// Any mask the composite takes is supported in place: bool or additive float, broadcast to the
// scores' shape (a key-padding mask (B, 1, 1, S) is read with stride 0 over heads and queries).
// Otherwise, on the CPU always, and in attention_with_weights (which must return the weights), the
// composite runs. The two agree up to float rounding (the fused kernels sum in another order);
// tests/cuda/test_fused_attention.cpp compares them.
bool use_fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask, double dropout_p,
                         FullyMaskedRows fully_masked) {
  return q.device().is_cuda() && q.ndim() >= 2 && k.ndim() >= 2 && v.ndim() >= 2 && q.is_floating_point() && q.numel() > 0 && k.numel() > 0 && v.numel() > 0 &&
         q.size(-1) <= cuda::kAttentionMaxHeadDim && v.size(-1) <= cuda::kAttentionMaxHeadDim && dropout_p == 0.0 &&
         (!attn_mask.defined() || (fully_masked == FullyMaskedRows::Zero && !attn_mask.requires_grad()));
}

// Fused scaled dot-product attention on CUDA. Inputs already expanded to the broadcast batch:
// q (..., L, E), k (..., S, E), v (..., S, Ev), mask (..., L, S) or undefined -> out (..., L, Ev).
// Saves q, k, v, the output and each row's log-sum-exp (..., L); the backward recomputes the
// weights from them tile by tile (cuda/attention.cu).
struct FusedAttention {
  static constexpr const char* name = "FusedAttentionBackward";
  static constexpr const char* op = "scaled_dot_product_attention";
  struct Saved : SavedBase {
    Tensor q, k, v, mask, out, lse;
    cuda::AttentionShape shape;
  };
  static StridedView mask_view(const Tensor& mask) { return mask.defined() ? mask.view() : StridedView{}; }
  static bool mask_is_bool(const Tensor& mask) { return mask.defined() && mask.dtype() == kBool; }

  static Tensor forward(Saved& s, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                        bool causal, double scale) {
    s.q = q.contiguous();   // (..., L, E), seen by the kernels as (BH, L, E)
    s.k = k.contiguous();   // (..., S, E)
    s.v = v.contiguous();   // (..., S, Ev)
    s.mask = mask;
    cuda::AttentionShape& sh = s.shape;
    sh.L = q.size(-2), sh.E = q.size(-1), sh.S = k.size(-2), sh.Ev = v.size(-1);
    sh.BH = q.numel() / (sh.L * sh.E);
    sh.scale = scale;
    sh.causal = causal;
    Shape out_shape = q.shape();
    out_shape[out_shape.size() - 1] = sh.Ev;
    Shape lse_shape = q.shape();
    lse_shape.erase(lse_shape.size() - 1);
    const TensorOptions opts{.dtype = q.dtype(), .device = q.device()};
    Tensor out = empty(out_shape, opts);   // (..., L, Ev)
    s.lse = empty(lse_shape, opts);        // (..., L)
    visit_floating(q.dtype(), op, [&](auto tag) {
      using T [[maybe_unused]] = decltype(tag);   // unused where ATTO_CUDA_ONLY drops its arguments
      ATTO_CUDA_ONLY(attention_forward<T>, s.q.data_ptr<T>(), s.k.data_ptr<T>(), s.v.data_ptr<T>(), mask_view(mask),
                     mask_is_bool(mask), out.data_ptr<T>(), s.lse.data_ptr<T>(), sh);
    });
    return s.out = out;
  }
  // Formulas at the top of cuda/attention.cu. The mask gets no gradient (use_fused_attention).
  static std::array<Tensor, 4> backward(Saved& s, const Tensor& dout_in) {
    Tensor dout = dout_in.contiguous();   // (..., L, Ev)
    const TensorOptions opts{.dtype = s.q.dtype(), .device = s.q.device()};
    Tensor dq = empty(s.q.shape(), opts), dk = empty(s.k.shape(), opts), dv = empty(s.v.shape(), opts);
    Tensor delta = empty(s.lse.shape(), opts);   // (..., L) scratch: rowsum(dout * out)
    visit_floating(s.q.dtype(), op, [&](auto tag) {
      using T [[maybe_unused]] = decltype(tag);   // unused where ATTO_CUDA_ONLY drops its arguments
      ATTO_CUDA_ONLY(attention_backward<T>, s.q.data_ptr<T>(), s.k.data_ptr<T>(), s.v.data_ptr<T>(),
                     s.out.data_ptr<T>(), dout.data_ptr<T>(), s.lse.data_ptr<T>(), mask_view(s.mask),
                     mask_is_bool(s.mask), delta.data_ptr<T>(), dq.data_ptr<T>(), dk.data_ptr<T>(),
                     dv.data_ptr<T>(), s.shape);
    });
    return {dq, dk, dv, Tensor()};
  }
};

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

  const double s = scale.value_or(1.0 / std::sqrt(double(E)));

  const Tensor q_scaled = s == 1.0 ? q : mul(q, s);                   // (..., L, E); 1.0: scaled by the caller
  Tensor scores = matmul(q_scaled, k.transpose(-2, -1));              // (..., L, E) @ (..., E, S) -> (..., L, S)
  // Causal: query i sees keys j <= i -- PyTorch's ones(L, S).tril(). causal_softmax gives the other
  // keys weight 0 without building a mask (and a causal row always sees key 0: none is fully masked).
  Tensor weights = is_causal ? causal_softmax(scores)                  // (..., L, S), rows sum to 1
                             : masked_softmax(apply_mask(scores, attn_mask), attn_mask.defined(), fully_masked);
  Tensor dropped = dropout(weights, dropout_p, true, gen);            // (..., L, S)
  Tensor out = matmul(dropped, v);                                    // (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
  return {out, weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale, Generator* gen,
                                    FullyMaskedRows fully_masked) {
  if (!use_fused_attention(q, k, v, attn_mask, dropout_p, fully_masked))
    return attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, scale, gen, fully_masked).output;
  // The checks are the composite's (a mask or shape it rejects is rejected here with its message).
  constexpr const char* op = "scaled_dot_product_attention";
  ATTO_CHECK(q.ndim() >= 2 && k.ndim() >= 2 && v.ndim() >= 2,
             "[{}] q, k, v need at least 2 dims (..., L, E), (..., S, E), (..., S, Ev), got q {} k {} v {}", op,
             q.shape(), k.shape(), v.shape());
  check_floating_same(q, k, "q", "k", op);
  check_floating_same(q, v, "q", "v", op);
  const int64_t L = q.size(-2), E = q.size(-1), S = k.size(-2), Ev = v.size(-1);
  ATTO_CHECK(k.size(-1) == E, "[{}] q's last dim {} must equal k's last dim {}: q {} k {}", op, E, k.size(-1),
             q.shape(), k.shape());
  ATTO_CHECK(v.size(-2) == S, "[{}] k and v need the same number of keys S (dim -2), got k {} v {}", op, k.shape(),
             v.shape());
  ATTO_CHECK(!(is_causal && attn_mask.defined()),
             "[{}] pass either attn_mask (shape {}) or is_causal, not both (as PyTorch)", op, attn_mask.shape());
  const Shape batch = broadcast_batch(q, 2, k, 2, v, 2, op);
  auto with = [&](int64_t rows, int64_t cols) {   // batch + (rows, cols)
    Shape s = batch;
    s.push_back(rows);
    s.push_back(cols);
    return s;
  };
  Tensor mask;   // (..., L, S): the user's mask expanded in place (stride 0 where it broadcasts)
  if (attn_mask.defined()) {
    check_mask(attn_mask, with(L, S), q.dtype(), op, "attn_mask");
    check_same_device(q, attn_mask, op);
    mask = attn_mask.detach().expand(with(L, S));
  }
  // Broadcast q, k, v to the batch; the expands' backwards sum the gradients back to their shapes.
  return apply<FusedAttention>(q.expand(with(L, E)), k.expand(with(S, E)), v.expand(with(S, Ev)), mask, is_causal,
                               scale.value_or(1.0 / std::sqrt(double(E))));
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
