// tensor/cpu/loss.h -- CPU kernels for the losses (internal), used by autograd/functions/losses.cpp.
// Class losses work on rows: logits laid out as (rows, C) contiguous, one int64 target per row.
// cross_entropy is a fused, numerically stable log-softmax + NLL per row (with label smoothing and
// class weights); its backward is softmax minus the (smoothed, weighted) one-hot, scaled.
// Elementwise losses (mse, bce-with-logits) are map_strided lambdas over broadcast views.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/parallel_for.h"
#include "tensor/cpu/reduce.h"

namespace atto::cpu {

// The first target that is neither ignore_index nor in [0, C), if any (checked before the kernels).
inline std::optional<int64_t> find_bad_target(const int64_t* target, int64_t rows, int64_t C, int64_t ignore) {
  for (int64_t r = 0; r < rows; ++r)
    if (target[r] != ignore && (target[r] < 0 || target[r] >= C)) return target[r];
  return std::nullopt;
}

// Per row r with target t (w = weight, or all ones; eps = label smoothing):
//   lse_r   = log sum_j exp(x_rj)                     (max-shifted)
//   loss_r  = (1 - eps) * w_t * (lse_r - x_rt)  +  eps / C * sum_j w_j (lse_r - x_rj)
//   wt_r    = w_t                                      (0 and loss 0 when t == ignore)
template <class T>
void cross_entropy_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore,
                        double eps, T* loss, T* wt, T* lse) {
  using A = acc_t<T>;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * C;
      A m = -INFINITY;
      for (int64_t j = 0; j < C; ++j) m = std::max<A>(m, xr[j]);
      if (!std::isfinite(m)) m = 0;   // all -inf (or a NaN): let the sum below produce inf/NaN
      A s = 0;
      for (int64_t j = 0; j < C; ++j) s += std::exp(A(xr[j]) - m);
      const A l = m + std::log(s);
      lse[r] = T(l);
      const int64_t t = target[r];
      if (t == ignore) {
        loss[r] = 0;
        wt[r] = 0;
        continue;
      }
      const A wt_r = weight ? A(weight[t]) : A(1);
      A out = (1 - eps) * wt_r * (l - A(xr[t]));
      if (eps > 0) {
        A smooth = 0;
        for (int64_t j = 0; j < C; ++j) smooth += (weight ? A(weight[j]) : A(1)) * (l - A(xr[j]));
        out += eps / double(C) * smooth;
      }
      loss[r] = T(out);
      wt[r] = T(wt_r);
    }
  });
}

// The derivative of loss_r above, times g_r = g[r * g_stride] * scale (W = sum_j w_j, p = softmax):
//   dx_rk = g_r * ((1 - eps) * w_t * (p_k - [k == t])  +  eps / C * (W * p_k - w_k));   0 when t == ignore
template <class T>
void cross_entropy_rows_backward(const T* x, const int64_t* target, const T* weight, const T* lse, const T* g,
                                 int64_t g_stride, double scale, int64_t rows, int64_t C, int64_t ignore, double eps,
                                 T* dx) {
  using A = acc_t<T>;
  A W = A(C);
  if (weight) {
    W = 0;
    for (int64_t j = 0; j < C; ++j) W += A(weight[j]);
  }
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * C;
      T* dr = dx + r * C;
      const int64_t t = target[r];
      if (t == ignore) {
        std::fill(dr, dr + C, T(0));
        continue;
      }
      const A gr = A(g[r * g_stride]) * scale;
      const A l = A(lse[r]);
      const A a = (1 - eps) * (weight ? A(weight[t]) : A(1));
      const A c = eps / double(C);
      for (int64_t k = 0; k < C; ++k) {
        const A p = std::exp(A(xr[k]) - l);
        const A wk = weight ? A(weight[k]) : A(1);
        dr[k] = T(gr * (a * (p - A(k == t)) + c * (W * p - wk)));
      }
    }
  });
}

// NLL on log-probabilities: loss_r = -w_t * x_rt, wt_r = w_t (both 0 when t == ignore).
template <class T>
void nll_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore, T* loss,
              T* wt) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = target[r];
    const T w = t == ignore ? T(0) : weight ? weight[t] : T(1);
    loss[r] = t == ignore ? T(0) : -w * x[r * C + t];
    wt[r] = w;
  }
}

// dx zeroed: dx_rt = -w_t * g_r.
template <class T>
void nll_rows_backward(const int64_t* target, const T* weight, const T* g, int64_t g_stride, double scale, int64_t rows,
                       int64_t C, int64_t ignore, T* dx) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = target[r];
    if (t == ignore) continue;
    dx[r * C + t] = T(-acc_t<T>(weight ? weight[t] : T(1)) * acc_t<T>(g[r * g_stride]) * scale);
  }
}

// The reduced loss: sum of the n per-row losses, divided for a mean by sum(wt) (or by n when wt is
// null). Returns the divisor (1 for a sum) for the backward. Deterministic: sum_rows.
template <class T> double reduce_loss(const T* loss, const T* wt, int64_t n, bool mean, T* out) {
  T total;
  sum_rows<T>(loss, &total, 1, n);
  double div = 1;
  if (mean) {
    if (wt) {
      T w;
      sum_rows<T>(wt, &w, 1, n);
      div = double(w);
    } else {
      div = double(n);
    }
  }
  *out = T(double(total) / div);
  return div;
}

// ---- elementwise losses (views broadcast to the loss shape by the caller) -------------------------

// out = (a - b)^2
template <class T> void mse_forward(StridedView out, StridedView a, StridedView b) {
  map_strided<T, T, T>([](T a, T b) { return (a - b) * (a - b); }, out, a, b);
}

// d = scale * 2 (a - b) g     (scale carries the mean's 1/n and the sign for b's gradient)
template <class T> void mse_backward(StridedView d, StridedView a, StridedView b, StridedView g, T scale) {
  map_strided<T, T, T, T>([scale](T a, T b, T g) { return scale * T(2) * (a - b) * g; }, d, a, b, g);
}

// softplus(-x) = log(1 + e^-x), stably: log1p(e^-|x|) + max(-x, 0).
template <class T> inline T softplus_neg(T x) { return std::log1p(std::exp(-std::abs(x))) + std::max(-x, T(0)); }

// out = w * ((1 - t) x + (1 + (pw - 1) t) softplus(-x))     (PyTorch's stable formulation)
template <class T> void bce_logits_forward(StridedView out, StridedView x, StridedView t, StridedView w, StridedView pw) {
  map_strided<T, T, T, T, T>(
      [](T x, T t, T w, T pw) { return w * ((1 - t) * x + (1 + (pw - 1) * t) * softplus_neg(x)); }, out, x, t, w, pw);
}

// d/dx = w * ((pw t + 1 - t) sigmoid(x) - pw t),   d/dt = w * (-x + (pw - 1) softplus(-x)), times g * scale.
template <class T>
void bce_logits_backward(bool wrt_target, StridedView d, StridedView x, StridedView t, StridedView w, StridedView pw,
                         StridedView g, T scale) {
  if (!wrt_target)
    map_strided<T, T, T, T, T, T>(
        [scale](T x, T t, T w, T pw, T g) {
          const T sig = T(1) / (T(1) + std::exp(-x));
          return scale * g * w * ((pw * t + 1 - t) * sig - pw * t);
        },
        d, x, t, w, pw, g);
  else
    map_strided<T, T, T, T, T, T>(
        [scale](T x, T, T w, T pw, T g) { return scale * g * w * (-x + (pw - 1) * softplus_neg(x)); }, d, x, t, w,
        pw, g);
}

}  // namespace atto::cpu
