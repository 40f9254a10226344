// cuda/layernorm.cu -- layer normalisation on the GPU, forward and backward: the twin of
// tensor/cpu/layernorm.h (declarations in cuda/layernorm.h). Shapes: x (rows, C), w/b (C), mean/rstd (rows).
//
// Row statistics and dx: a group of threads per row (a warp for short rows, the block for long
// ones: NOTE [ Row groups ] in cuda/rows.cuh), sums in double with fixed trees. dw and db sum over
// rows per column: column_sums (cuda/rows.cuh), a fixed two-pass tree in double. The formulas are
// the CPU's (derivations at tensor/cpu/layernorm.h); only the order of the additions differs.
#include "cuda/layernorm.h"
#include "cuda/rows.cuh"

namespace atto::cuda {

namespace {

// mean = sum_j x_j / C,  var = sum_j (x_j - mean)^2 / C (biased),  rstd = 1 / sqrt(var + eps),
// y_j = (x_j - mean) * rstd * w_j + b_j. Statistics in double, two passes, as the CPU.
template <int G, class T>
__global__ void layernorm_forward_kernel(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out,
                                         int64_t rows, int64_t C, double eps) {
  __shared__ double shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    double m = 0;
    for (int64_t j = lane; j < C; j += G) m += double(xr[j]);
    m = group_reduce<G>(m, SumOp{}, 0.0, shared) / double(C);
    double v = 0;
    for (int64_t j = lane; j < C; j += G) {
      const double d = double(xr[j]) - m;
      v += d * d;
    }
    v = group_reduce<G>(v, SumOp{}, 0.0, shared) / double(C);
    const double s = 1.0 / sqrt(v + eps);
    for (int64_t j = lane; j < C; j += G) {
      const T n = T((double(xr[j]) - m) * s);
      yr[j] = n * (w ? w[j] : T(1)) + (b ? b[j] : T(0));
    }
    if (lane == 0) {
      mean_out[r] = T(m);
      rstd_out[r] = T(s);
    }
  }
}

// dx_k = rstd (g_k - mean_j(g_j) - xhat_k mean_j(g_j xhat_j)),  g_j = dy_j w_j,  xhat_j = (x_j - mean) rstd
template <int G, class T>
__global__ void layernorm_backward_dx_kernel(const T* dy, const T* x, const T* w, const T* mean, const T* rstd,
                                             T* dx, int64_t rows, int64_t C) {
  __shared__ double shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T *xr = x + r * C, *dyr = dy + r * C;
    T* dxr = dx + r * C;
    const T m = mean[r], s = rstd[r];
    double g_mean = 0, gx_mean = 0;
    for (int64_t j = lane; j < C; j += G) {
      const double g = double(dyr[j]) * (w ? double(w[j]) : 1.0);
      g_mean += g;
      gx_mean += g * double((xr[j] - m) * s);
    }
    g_mean = group_reduce<G>(g_mean, SumOp{}, 0.0, shared) / double(C);
    gx_mean = group_reduce<G>(gx_mean, SumOp{}, 0.0, shared) / double(C);
    for (int64_t j = lane; j < C; j += G) {
      const T xhat = (xr[j] - m) * s;
      const T g = dyr[j] * (w ? w[j] : T(1));
      dxr[j] = s * (g - T(g_mean) - xhat * T(gx_mean));
    }
  }
}

// dw_j = sum over rows of dy_j xhat_j, db_j = sum over rows of dy_j: the terms column_sums adds.
template <class T> struct WeightGradTerm {
  const T *dy, *x, *mean, *rstd;
  int64_t C;
  __device__ double operator()(int64_t r, int64_t j) const {
    return double(dy[r * C + j]) * double((x[r * C + j] - mean[r]) * rstd[r]);
  }
};
template <class T> struct BiasGradTerm {
  const T* dy;
  int64_t C;
  __device__ double operator()(int64_t r, int64_t j) const { return double(dy[r * C + j]); }
};

}  // namespace

template <class T>
void layernorm_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows, int64_t C,
                       double eps) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(mean_out));
  with_row_group(C, [&](auto g) {
    constexpr int G = decltype(g)::value;
    layernorm_forward_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, w, b, y, mean_out, rstd_out, rows, C,
                                                                            eps);
    CUDA_CHECK_LAUNCH("layernorm_forward_kernel");
  });
}

template <class T>
void layernorm_backward(const T* dy, const T* x, const T* w, const T* mean, const T* rstd, T* dx, T* dw, T* db,
                        int64_t rows, int64_t C) {
  if (dx && rows > 0) {
    cudaStream_t s = stream(device_of(dx));
    with_row_group(C, [&](auto g) {
      constexpr int G = decltype(g)::value;
      layernorm_backward_dx_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(dy, x, w, mean, rstd, dx, rows, C);
      CUDA_CHECK_LAUNCH("layernorm_backward_dx_kernel");
    });
  }
  // dw and db have C elements even when rows == 0 (then they are 0, as the CPU's).
  if (dw && C > 0) {
    const int dev = device_of(dw);
    column_sums<double>(WeightGradTerm<T>{dy, x, mean, rstd, C}, dw, rows, C, dev, stream(dev));
  }
  if (db && C > 0) {
    const int dev = device_of(db);
    column_sums<double>(BiasGradTerm<T>{dy, C}, db, rows, C, dev, stream(dev));
  }
}

// ---- explicit instantiations: autograd/functions/nn_functional.cpp calls these for float and double --

template void layernorm_forward<float>(const float*, const float*, const float*, float*, float*, float*, int64_t,
                                       int64_t, double);
template void layernorm_forward<double>(const double*, const double*, const double*, double*, double*, double*,
                                        int64_t, int64_t, double);
template void layernorm_backward<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                        float*, float*, int64_t, int64_t);
template void layernorm_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         double*, double*, double*, int64_t, int64_t);

}  // namespace atto::cuda
