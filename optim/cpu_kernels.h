// optim/cpu_kernels.h -- the CPU kernels of the fused optimizer steps (internal header), called
// through ATTO_ON_DEVICE by optim/adam.cpp. Twin: cuda/optim.h / cuda/optim.cu. The per-element
// math is optim/update_fns.h, shared with the CUDA kernel.
#pragma once
#include <cstdint>

#include "optim/update_fns.h"
#include "tensor/cpu/loops.h"   // run_loop: float steps run through `vectorized`
#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

// Elements [begin, end) of one parameter. The buffers never overlap; saying so (__restrict) lets GCC
// vectorise the loop without checking every pair of the five pointers first.
template <class T>
[[gnu::always_inline]] inline void adam_range(const AdamUpdate<T>& update, T* __restrict param,
                                              const T* __restrict grad, T* __restrict exp_avg,
                                              T* __restrict exp_avg_sq, T* __restrict max_exp_avg_sq,
                                              T neg_step_size, T bias_correction2_sqrt, int64_t begin, int64_t end) {
  if (max_exp_avg_sq) {
    for (int64_t i = begin; i < end; ++i)
      update(param[i], grad[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i], neg_step_size, bias_correction2_sqrt);
  } else {
    for (int64_t i = begin; i < end; ++i) {
      T unused = 0;   // vmax is read only with amsgrad
      update(param[i], grad[i], exp_avg[i], exp_avg_sq[i], unused, neg_step_size, bias_correction2_sqrt);
    }
  }
}

// One Adam/AdamW step over `count` parameters (NOTE [ Fused Adam ] in optim/update_fns.h). The
// table is host memory; its buffers are contiguous T on the CPU.
template <class T> void adam_step(const AdamTensorRef* tensors, int64_t count, const AdamHyper& hyper) {
  const AdamUpdate<T> update(hyper);
  for (int64_t k = 0; k < count; ++k) {
    const AdamTensorRef& t = tensors[k];
    T* param = static_cast<T*>(t.param);
    const T* grad = static_cast<const T*>(t.grad);
    T* exp_avg = static_cast<T*>(t.exp_avg);
    T* exp_avg_sq = static_cast<T*>(t.exp_avg_sq);
    T* max_exp_avg_sq = static_cast<T*>(t.max_exp_avg_sq);
    const T neg_step_size = T(-t.step_size), bias_correction2_sqrt = T(t.bias_correction2_sqrt);
    parallel_for(0, t.numel, kParallelGrain, [&](int64_t begin, int64_t end) {
      run_loop<T>([&]() ATTO_INLINE_LOOP {
        adam_range(update, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, neg_step_size, bias_correction2_sqrt,
                   begin, end);
      });
    });
  }
}

}  // namespace atto::cpu
