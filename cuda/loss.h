// cuda/loss.h -- CUDA twins of the loss kernels of tensor/cpu/loss.h (internal): same names and
// parameters, defined in cuda/loss.cu. Class losses work on rows: logits (rows, C) contiguous, one
// int64 target per row (checked on a CPU copy by autograd/functions/losses.cpp before any kernel
// runs). Elementwise losses take views broadcast to the loss shape.
#pragma once
#include <cstdint>

#include "tensor/strided.h"

namespace atto::cuda {

// Fused log-softmax + NLL per row (label smoothing eps, class weights or null): loss, wt (= w_t, 0
// when ignored) and lse (log-sum-exp, saved for the backward) per row.
template <class T>
void cross_entropy_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore,
                        double eps, T* loss, T* wt, T* lse);

// dx_rk = g_r * ((1 - eps) * w_t * (p_k - [k == t]) + eps / C * (W * p_k - w_k)), g_r = g[r * g_stride] * scale.
template <class T>
void cross_entropy_rows_backward(const T* x, const int64_t* target, const T* weight, const T* lse, const T* g,
                                 int64_t g_stride, double scale, int64_t rows, int64_t C, int64_t ignore, double eps,
                                 T* dx);

// NLL on log-probabilities: loss_r = -w_t * x_rt, wt_r = w_t (both 0 when t == ignore).
template <class T>
void nll_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore, T* loss,
              T* wt);

// dx zeroed: dx_rt = -w_t * g_r.
template <class T>
void nll_rows_backward(const int64_t* target, const T* weight, const T* g, int64_t g_stride, double scale, int64_t rows,
                       int64_t C, int64_t ignore, T* dx);

// *out = sum of the n losses, divided for a mean by sum(wt) (or by n when wt is null). Returns the
// divisor; a mean over weights reads sum(wt) back to the host (a synchronising 8-byte copy).
template <class T> double reduce_loss(const T* loss, const T* wt, int64_t n, bool mean, T* out);

// out = (a - b)^2
template <class T> void mse_forward(StridedView out, StridedView a, StridedView b);
// d = scale * 2 (a - b) g
template <class T> void mse_backward(StridedView d, StridedView a, StridedView b, StridedView g, T scale);

// out = w * ((1 - t) x + (1 + (pw - 1) t) softplus(-x))
template <class T> void bce_logits_forward(StridedView out, StridedView x, StridedView t, StridedView w, StridedView pw);
// d/dx = w * ((pw t + 1 - t) sigmoid(x) - pw t),   d/dt = w * (-x + (pw - 1) softplus(-x)), times g * scale.
template <class T>
void bce_logits_backward(bool wrt_target, StridedView d, StridedView x, StridedView t, StridedView w, StridedView pw,
                         StridedView g, T scale);

}  // namespace atto::cuda
