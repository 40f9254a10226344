// optim/update_fns.h -- per-element optimizer updates written once, for the CPU loop
// (optim/cpu_kernels.h) and the CUDA multi-tensor kernel (cuda/optim.cu) alike. Header-only, no
// Tensor, so .cu files may include it. The optimizers that call them are in optim/adam.cpp.
//
// NOTE [ Fused Adam ]
// Adam and AdamW written as separate tensor ops read and write every parameter-sized buffer about
// ten times per step. The fused step does one pass: each element of the parameter, its gradient and
// its moments is read once and written once. It performs the same operations in the same order as
// the separate ops of adam_update_composite (adam.cpp), each rounded to T with the scalars cast to
// T first, as the elementwise ops round them; on the CPU the two are therefore bitwise the same
// (the compiler may not contract a*b+c into an FMA there: x86-64 without -mfma). nvcc contracts
// both the fused kernel and the elementwise kernels into FMAs where it likes, so on CUDA the two
// agree to float rounding, not bit for bit.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/strided.h"   // ATTO_HD

namespace atto {

// One parameter of a fused Adam/AdamW step: contiguous buffers of `numel` elements of one dtype.
// The bias corrections are per parameter: a parameter that had no gradient at some step was not
// counted, so the step counts within a group may differ.
struct AdamTensorRef {
  void* param = nullptr;
  const void* grad = nullptr;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  void* max_exp_avg_sq = nullptr;       // amsgrad only, else null
  int64_t numel = 0;
  double step_size = 0;                 // lr / (1 - beta1^t)
  double bias_correction2_sqrt = 1;     // sqrt(1 - beta2^t)
};

// What is the same for every parameter of a group.
struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;   // AdamW: p = p * (1 - lr * weight_decay); Adam: g = g + weight_decay * p
  bool amsgrad = false;
  bool maximize = false;
};

// The update of one element. Each line names the tensor op of adam_update_composite it mirrors.
template <class T> struct AdamUpdate {
  T b1, one_minus_b1, b2, one_minus_b2, eps, weight_decay, decay_scale;
  bool l2, decoupled, amsgrad, maximize;

  ATTO_HD explicit AdamUpdate(const AdamHyper& h)
      : b1(T(h.beta1)), one_minus_b1(T(1 - h.beta1)), b2(T(h.beta2)), one_minus_b2(T(1 - h.beta2)), eps(T(h.eps)),
        weight_decay(T(h.weight_decay)), decay_scale(T(1 - h.lr * h.weight_decay)),
        l2(!h.decoupled_weight_decay && h.weight_decay != 0), decoupled(h.decoupled_weight_decay),
        amsgrad(h.amsgrad), maximize(h.maximize) {}

  // p, m (exp_avg), v (exp_avg_sq) and vmax (max_exp_avg_sq, read only with amsgrad) in place.
  // Always inlined: the CPU loop is vectorised only with the update inside it.
  __attribute__((always_inline)) ATTO_HD void operator()(T& p, T g, T& m, T& v, T& vmax, T neg_step_size,
                                                         T bias_correction2_sqrt) const {
    if (maximize) g = -g;                             // grad = neg(grad)
    if (l2) g = g + weight_decay * p;                 // grad = add(grad, p, weight_decay)
    if (decoupled) p = p * decay_scale;               // param.mul_(1 - lr * weight_decay)
    m = m * b1 + one_minus_b1 * g;                    // exp_avg.mul_(beta1).add_(grad, 1 - beta1)
    const T gg = g * g;                               // mul(grad, grad)
    v = v * b2 + one_minus_b2 * gg;                   // exp_avg_sq.mul_(beta2).add_(gg, 1 - beta2)
    T second = v;
    if (amsgrad) {                                    // max_sq.copy_(maximum(max_sq, exp_avg_sq)), NaN wins
      vmax = (vmax > v || vmax != vmax) ? vmax : v;
      second = vmax;
    }
    const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;   // div(sqrt(v), bc2_sqrt).add_(eps)
    p = p + neg_step_size * (m / denom);              // param.add_(div(exp_avg, denom), -step_size)
  }
};

}  // namespace atto
