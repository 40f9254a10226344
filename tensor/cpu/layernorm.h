// tensor/cpu/layernorm.h -- layer normalisation on the CPU, forward and backward row kernels
// (internal; the shape of llm.c's layernorm_forward / layernorm_backward). Twin: cuda/layernorm.cu.
//
// x is (rows, C) contiguous, normalised over each row of C elements; weight and bias have C
// elements and may be null (no affine transform). Each row's statistics are computed by one thread,
// and dweight / dbias sum over rows in row order per column, so results do not depend on the
// thread count. Float rows run through `vectorized` (NOTE [ CPU vector width ]).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/loops.h"   // run_loop
#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

// mean = sum_j x_j / C,  var = sum_j (x_j - mean)^2 / C (biased, as PyTorch),  rstd = 1 / sqrt(var + eps)
// xhat_j = (x_j - mean) * rstd,  y_j = xhat_j * w_j + b_j.  Statistics in double, two passes.
template <class T>
void layernorm_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows, int64_t C,
                       double eps) {
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(C, 1)), [&](int64_t rb, int64_t re) {
    run_loop<T>([&]() ATTO_INLINE_LOOP {
      for (int64_t r = rb; r < re; ++r) {
        const T* xr = x + r * C;
        T* yr = y + r * C;
        double m = 0;
        for (int64_t j = 0; j < C; ++j) m += double(xr[j]);
        m /= double(C);
        double v = 0;
        for (int64_t j = 0; j < C; ++j) v += (double(xr[j]) - m) * (double(xr[j]) - m);
        v /= double(C);
        const double s = 1.0 / std::sqrt(v + eps);
        for (int64_t j = 0; j < C; ++j) {
          T n = T((double(xr[j]) - m) * s);
          yr[j] = n * (w ? w[j] : T(1)) + (b ? b[j] : T(0));
        }
        mean_out[r] = T(m);
        rstd_out[r] = T(s);
      }
    });
  });
}

// Backward of the forward above, per row (g_j = dy_j * w_j is the gradient reaching xhat_j):
//   xhat_j = (x_j - mean) * rstd, where mean and rstd depend on every x_k of the row:
//     d mean / d x_k = 1/C,   d rstd / d x_k = -rstd^3 (x_k - mean) / C = -rstd^2 xhat_k / C
//   d xhat_j / d x_k = rstd (delta_jk - 1/C) + (x_j - mean) d rstd/d x_k
//                    = rstd (delta_jk - 1/C - xhat_j xhat_k / C)
//   dx_k = sum_j g_j d xhat_j / d x_k = rstd (g_k - mean_j(g_j) - xhat_k mean_j(g_j xhat_j))
//   dw_j = sum over rows of dy_j xhat_j,   db_j = sum over rows of dy_j
// dx, dw, db may each be null when not needed.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* w, const T* mean, const T* rstd, T* dx, T* dw, T* db,
                        int64_t rows, int64_t C) {
  if (dx) {
    parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(C, 1)), [&](int64_t rb, int64_t re) {
      run_loop<T>([&]() ATTO_INLINE_LOOP {
        for (int64_t r = rb; r < re; ++r) {
          const T *xr = x + r * C, *dyr = dy + r * C;
          T* dxr = dx + r * C;
          const T m = mean[r], s = rstd[r];
          double g_mean = 0, gx_mean = 0;
          for (int64_t j = 0; j < C; ++j) {
            double g = double(dyr[j]) * (w ? double(w[j]) : 1.0);
            g_mean += g;
            gx_mean += g * double((xr[j] - m) * s);
          }
          g_mean /= double(C);
          gx_mean /= double(C);
          for (int64_t j = 0; j < C; ++j) {
            const T xhat = (xr[j] - m) * s;
            const T g = dyr[j] * (w ? w[j] : T(1));
            dxr[j] = s * (g - T(g_mean) - xhat * T(gx_mean));
          }
        }
      });
    });
  }
  if (dw || db) {   // each thread owns a range of columns and walks every row in order
    parallel_for(0, C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(rows, 1)), [&](int64_t cb, int64_t ce) {
      std::vector<double> aw(size_t(ce - cb), 0.0), ab(size_t(ce - cb), 0.0);
      run_loop<T>([&]() ATTO_INLINE_LOOP {
        for (int64_t r = 0; r < rows; ++r) {
          const T *xr = x + r * C, *dyr = dy + r * C;
          const T m = mean[r], s = rstd[r];
          for (int64_t j = cb; j < ce; ++j) {
            aw[size_t(j - cb)] += double(dyr[j]) * double((xr[j] - m) * s);
            ab[size_t(j - cb)] += double(dyr[j]);
          }
        }
      });
      for (int64_t j = cb; j < ce; ++j) {
        if (dw) dw[j] = T(aw[size_t(j - cb)]);
        if (db) db[j] = T(ab[size_t(j - cb)]);
      }
    });
  }
}

}  // namespace atto::cpu
