// cuda/attention.h -- fused scaled dot-product attention on CUDA (internal header): a FlashAttention-
// style forward and backward that never materialise the L x S score matrix. Twin: the composite in
// autograd/functions/attention.cpp (matmul, masked softmax, matmul), which is the reference and the
// CPU path; there is no CPU kernel of this name, so the call site uses ATTO_CUDA_ONLY, not
// ATTO_ON_DEVICE. Plain C++ declarations; defined and instantiated in cuda/attention.cu.
//
// Shapes (all contiguous device memory of one dtype T = float or double):
//   q (BH, L, E), k (BH, S, E), v (BH, S, Ev)  ->  out (BH, L, Ev), lse (BH, L)
//   BH is the flattened broadcast batch (e.g. batch * heads), L queries, S keys, E <= 128 and Ev <= 128
//   (kAttentionMaxHeadDim).
//   lse[b, i] = log(sum_j exp(score[b, i, j])), the row's log-sum-exp saved for the backward;
//   -inf for a fully masked row, whose output row is 0 (FullyMaskedRows::Zero).
//   score[b, i, j] = (q[b, i] * scale) . k[b, j] + mask(b, i, j), or -inf where masked out.
//
// The mask (optional: mask.data == nullptr for none) is the user's mask EXPANDED to the scores'
// shape (batch..., L, S) -- a StridedView with stride 0 on broadcast dims, so a (B, 1, 1, S) key-
// padding mask is read in place. Its batch dims flatten, in C order, to the BH index. mask_is_bool:
// the elements are bool (true = take part, false = -inf); otherwise T, added to the score.
// causal: key j takes part for query i only if j <= i (top-left aligned, as PyTorch's tril); it is
// never combined with a mask (the caller checks, as PyTorch does).
#pragma once
#include <cstdint>

#include "tensor/strided.h"

namespace atto::cuda {

inline constexpr int64_t kAttentionMaxHeadDim = 128;

struct AttentionShape {
  int64_t BH = 0, L = 0, S = 0, E = 0, Ev = 0;
  double scale = 1.0;
  bool causal = false;
};

// T: float, double. Writes out and lse.
template <class T>
void attention_forward(const T* q, const T* k, const T* v, const StridedView& mask, bool mask_is_bool, T* out,
                       T* lse, const AttentionShape& shape);

// T: float, double. From dout (BH, L, Ev) and what the forward saved (q, k, v, out, lse), writes
// dq (BH, L, E), dk (BH, S, E), dv (BH, S, Ev). delta (BH, L) is scratch: rowsum(dout * out).
// Deterministic: every gradient element is written by one thread, in a fixed summation order.
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* out, const T* dout, const T* lse,
                        const StridedView& mask, bool mask_is_bool, T* delta, T* dq, T* dk, T* dv,
                        const AttentionShape& shape);

}  // namespace atto::cuda
