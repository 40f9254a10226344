// cuda/conv.cu -- 2-D convolution (im2col + cuBLAS gemm) and max/avg pooling on the GPU, forward and
// backward. Twin: tensor/cpu/conv.h, whose NOTE [ im2col layout ] this file follows exactly (the
// same column matrix, the same side-by-side layout for a chunk of images, the same gemms per group).
//
// Layouts (contiguous): x (N, C, H, W), w (Cout, C/groups, kH, kW), y and dy (N, Cout, oH, oW);
// L = oH * oW; cols (C * kH * kW, nb * L) for a chunk of nb images.
//
// Determinism: no float atomics. The scatters of the backward passes (col2im, the pools' backward)
// are written as gathers: one thread per input pixel sums, in a fixed order, every window entry
// that lands on it. That order is the CPU's own, so the only differences from the CPU come from
// the gemms and from exp/division rounding, never from the order of additions in these kernels.
#include <algorithm>
#include <limits>

#include "cuda/conv.h"
#include "cuda/gemm.h"
#include "cuda/launch.cuh"
#include "cuda/scratch.h"
#include "cuda/runtime.h"

namespace atto::cuda {

namespace {

// Elements in one chunk's column matrix. Bigger than the CPU's kColumnBudget (which is sized for a
// cache): on the GPU fewer, larger gemms are what pays. A function of the shapes only.
constexpr int64_t kGpuColumnBudget = int64_t(1) << 24;
int64_t gpu_conv_chunk(const Window2d& g, int64_t N) {
  return std::clamp<int64_t>(kGpuColumnBudget / std::max<int64_t>(1, g.col_rows() * g.out_plane()), 1,
                             std::max<int64_t>(N, 1));
}

#define ATTO_GRID_STRIDE(e, n) \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (n); e += int64_t(gridDim.x) * blockDim.x)

// ---- convolution -------------------------------------------------------------------------------------

// Window2d's sizes for device code (its own member functions are host-only).
__device__ int64_t out_plane(const Window2d& g) { return g.oH * g.oW; }
__device__ int64_t in_plane(const Window2d& g) { return g.H * g.W; }
__device__ int64_t col_rows(const Window2d& g) { return g.C * g.kH * g.kW; }

// cols[r][b * L + oh * oW + ow] = x_b[c, oh*sH - pH + i*dH, ow*sW - pW + j*dW] (0 in the padding),
// r = (c * kH + i) * kW + j. One thread per column entry: consecutive threads write consecutive entries.
template <class T> __global__ void im2col_kernel(Window2d g, const T* x, int64_t nb, T* cols) {
  const int64_t L = out_plane(g), ld = nb * L, total = col_rows(g) * ld;
  ATTO_GRID_STRIDE(e, total) {
    const int64_t r = e / ld, col = e % ld, b = col / L, l = col % L;
    const int64_t c = r / (g.kH * g.kW), i = r / g.kW % g.kH, j = r % g.kW;
    const int64_t h = l / g.oW * g.sH - g.pH + i * g.dH, w = l % g.oW * g.sW - g.pW + j * g.dW;
    cols[e] = h >= 0 && h < g.H && w >= 0 && w < g.W ? x[((b * g.C + c) * g.H + h) * g.W + w] : T(0);
  }
}

// The adjoint of im2col, as a gather: dx (nb images, overwritten) at pixel (b, c, h, w) is the sum of
// the column entries that im2col copied from it. For kernel offset (i, j) that is output
// (oh, ow) with oh * sH = h + pH - i * dH (if divisible and in range), likewise ow; summed in
// (i, j) order, the order in which the CPU's col2im adds them to the same pixel.
template <class T> __global__ void col2im_kernel(Window2d g, const T* cols, int64_t nb, T* dx) {
  const int64_t L = out_plane(g), ld = nb * L, total = nb * g.C * in_plane(g);
  ATTO_GRID_STRIDE(e, total) {
    const int64_t w = e % g.W, h = e / g.W % g.H, c = e / in_plane(g) % g.C, b = e / (g.C * in_plane(g));
    T sum = T(0);
    for (int64_t i = 0; i < g.kH; ++i) {
      const int64_t hh = h + g.pH - i * g.dH;
      if (hh < 0 || hh % g.sH != 0 || hh / g.sH >= g.oH) continue;
      for (int64_t j = 0; j < g.kW; ++j) {
        const int64_t ww = w + g.pW - j * g.dW;
        if (ww < 0 || ww % g.sW != 0 || ww / g.sW >= g.oW) continue;
        sum += cols[((c * g.kH + i) * g.kW + j) * ld + b * L + hh / g.sH * g.oW + ww / g.sW];
      }
    }
    dx[e] = sum;
  }
}

// dst (nb, Cout, L) NCHW = src (Cout, nb * L) side by side, plus bias[co] (bias may be null). With
// nb == 1 the two layouts coincide and src may be dst (each thread reads the element it writes).
template <class T>
__global__ void side_by_side_to_nchw_kernel(const T* src, const T* bias, int64_t nb, int64_t Cout, int64_t L, T* dst) {
  const int64_t total = nb * Cout * L;
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / L, l = e % L, b = p / Cout, co = p % Cout;
    dst[e] = src[(co * nb + b) * L + l] + (bias ? bias[co] : T(0));
  }
}

template <class T> __global__ void nchw_to_side_by_side_kernel(const T* src, int64_t nb, int64_t Cout, int64_t L, T* dst) {
  const int64_t total = nb * Cout * L;
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / L, l = e % L, b = p / Cout, co = p % Cout;
    dst[(co * nb + b) * L + l] = src[e];
  }
}

// db[co] = the sum of dy[n, co, :, :] over n: one block per channel, summed in double (as the CPU)
// with the fixed tree of block_sum (NOTE [ Deterministic reductions ]).
template <class T> __global__ void conv_bias_backward_kernel(const T* dy, int64_t N, int64_t Cout, int64_t L, T* db) {
  __shared__ double shared[kWarp];
  const int64_t co = blockIdx.x;
  double s = 0;
  for (int64_t k = threadIdx.x; k < N * L; k += blockDim.x) s += double(dy[(k / L * Cout + co) * L + k % L]);
  s = block_sum(s, shared);
  if (threadIdx.x == 0) db[co] = T(s);
}

// The per-group gemms of a chunk as one batched gemm over the groups: operand X of group gr starts
// at X + gr * stride_X.
GemmBatch per_group(int64_t groups, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  return {Shape{groups}, Strides{stride_a}, Strides{stride_b}, Strides{stride_c}};
}

template <class T> void launch_im2col(const Window2d& g, const T* x, int64_t nb, T* cols, cudaStream_t s) {
  const int64_t n = g.col_rows() * nb * g.out_plane();
  if (n == 0) return;
  im2col_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(g, x, nb, cols);
  CUDA_CHECK_LAUNCH("im2col_kernel");
}

// ---- pooling ---------------------------------------------------------------------------------------

// As the CPU's avg_window: [h0, h1) x [w0, w1) inside the input and the divisor. (Another name: a
// Window2d argument makes ADL find cpu::avg_window too; for the same reason gemm_batched is qualified.)
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
__device__ AvgWindow window_of(const Window2d& g, int64_t oh, int64_t ow, bool count_include_pad,
                                int64_t divisor_override) {
  int64_t h0 = oh * g.sH - g.pH, w0 = ow * g.sW - g.pW;
  int64_t h1 = min(h0 + g.kH, g.H + g.pH), w1 = min(w0 + g.kW, g.W + g.pW);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t(0));
  w0 = max(w0, int64_t(0));
  h1 = min(h1, g.H);
  w1 = min(w1, g.W);
  const int64_t div = divisor_override != 0 ? divisor_override : count_include_pad ? padded : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, div};
}

// One thread per output: the CPU's loop for that window (first max wins a tie, NaN counts as the max).
template <class T> __global__ void max_pool2d_forward_kernel(Window2d g, int64_t planes, const T* x, T* y, int64_t* idx) {
  const int64_t total = planes * out_plane(g);
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / out_plane(g), oh = e % out_plane(g) / g.oW, ow = e % g.oW;
    const T* xp = x + p * in_plane(g);
    int64_t h0 = oh * g.sH - g.pH, w0 = ow * g.sW - g.pW;
    const int64_t h1 = min(h0 + (g.kH - 1) * g.dH + 1, g.H), w1 = min(w0 + (g.kW - 1) * g.dW + 1, g.W);
    while (h0 < 0) h0 += g.dH;
    while (w0 < 0) w0 += g.dW;
    int64_t best = h0 * g.W + w0;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t h = h0; h < h1; h += g.dH)
      for (int64_t w = w0; w < w1; w += g.dW) {
        const T v = xp[h * g.W + w];
        if (v > m || v != v) {
          m = v;
          best = h * g.W + w;
        }
      }
    y[e] = m;
    idx[e] = best;
  }
}

// The gather form of dx[idx] += dy: pixel (p, h, w) sums dy over the windows that cover it and chose
// it. Window (oh, ow) covers h when h = oh * sH - pH + i * dH for a kernel row i; walking i and j
// downwards visits the windows in increasing (oh, ow), the CPU's order of additions.
template <class T>
__global__ void max_pool2d_backward_kernel(Window2d g, int64_t planes, const T* dy, const int64_t* idx, T* dx) {
  const int64_t total = planes * in_plane(g);
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / in_plane(g), pix = e % in_plane(g), h = pix / g.W, w = pix % g.W;
    const T* dyp = dy + p * out_plane(g);
    const int64_t* ip = idx + p * out_plane(g);
    T sum = T(0);
    for (int64_t i = g.kH - 1; i >= 0; --i) {
      const int64_t hh = h + g.pH - i * g.dH;
      if (hh < 0 || hh % g.sH != 0 || hh / g.sH >= g.oH) continue;
      for (int64_t j = g.kW - 1; j >= 0; --j) {
        const int64_t ww = w + g.pW - j * g.dW;
        if (ww < 0 || ww % g.sW != 0 || ww / g.sW >= g.oW) continue;
        const int64_t o = hh / g.sH * g.oW + ww / g.sW;
        if (ip[o] == pix) sum += dyp[o];
      }
    }
    dx[e] = sum;
  }
}

// One thread per output, summed in double as the CPU.
template <class T> __global__ void avg_pool2d_forward_kernel(Window2d g, int64_t planes, const T* x, T* y,
                                                             bool count_include_pad, int64_t divisor_override) {
  const int64_t total = planes * out_plane(g);
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / out_plane(g), oh = e % out_plane(g) / g.oW, ow = e % g.oW;
    const T* xp = x + p * in_plane(g);
    const AvgWindow a = window_of(g, oh, ow, count_include_pad, divisor_override);
    double s = 0;
    for (int64_t h = a.h0; h < a.h1; ++h)
      for (int64_t w = a.w0; w < a.w1; ++w) s += double(xp[h * g.W + w]);
    y[e] = a.h0 < a.h1 && a.w0 < a.w1 ? T(s / double(a.divisor)) : T(0);
  }
}

// The gather form of "every pixel of a window gets dy / divisor": pixel (p, h, w) sums over the
// windows whose clipped extent holds it, in increasing (oh, ow) as the CPU. Candidate rows: the
// windows starting in (h - kH, h], i.e. oh * sH - pH in that range.
template <class T> __global__ void avg_pool2d_backward_kernel(Window2d g, int64_t planes, const T* dy, T* dx,
                                                              bool count_include_pad, int64_t divisor_override) {
  const int64_t total = planes * in_plane(g);
  ATTO_GRID_STRIDE(e, total) {
    const int64_t p = e / in_plane(g), h = e % in_plane(g) / g.W, w = e % g.W;
    const T* dyp = dy + p * out_plane(g);
    // oh * sH - pH > h - kH  <=>  oh >= floor((h + pH - kH) / sH) + 1; h + pH >= 0, so the top is plain division.
    auto first = [](int64_t num, int64_t s) { return num < 0 ? int64_t(0) : num / s + 1; };
    const int64_t oh0 = first(h + g.pH - g.kH, g.sH), oh1 = min((h + g.pH) / g.sH + 1, g.oH);
    const int64_t ow0 = first(w + g.pW - g.kW, g.sW), ow1 = min((w + g.pW) / g.sW + 1, g.oW);
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const AvgWindow a = window_of(g, oh, ow, count_include_pad, divisor_override);
        if (h < a.h0 || h >= a.h1 || w < a.w0 || w >= a.w1) continue;
        sum += dyp[oh * g.oW + ow] / T(a.divisor);
      }
    dx[e] = sum;
  }
}

#undef ATTO_GRID_STRIDE

}  // namespace

// ---- the kernels ATTO_ON_DEVICE calls -----------------------------------------------------------------

template <class T> void conv2d_forward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                       const T* w, const T* bias, T* y) {
  const int64_t L = g.out_plane(), K = g.col_rows() / groups, Cg = Cout / groups, nb = gpu_conv_chunk(g, N);
  if (N == 0 || Cout == 0 || L == 0) return;
  const int dev = device_of(y);
  cudaStream_t s = stream(dev);
  DeviceBuffer<T> cols(g.col_rows() * nb * L, dev), wide(nb > 1 ? Cout * nb * L : 0, dev);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t b = std::min(nb, N - n0), ld = b * L;
    T* yn = y + n0 * Cout * L;
    T* out = b == 1 ? yn : wide.get();
    launch_im2col(g, x + n0 * g.C * g.in_plane(), b, cols.get(), s);
    // out_g (Cg, ld) = W_g (Cg, K) @ cols_g (K, ld), per group
    cuda::gemm_batched<T>(per_group(groups, Cg * K, K * ld, Cg * ld), false, false, Cg, ld, K, T(1), w, K, cols.get(),
                          ld, T(0), out, ld);
    if (b > 1 || bias) {
      side_by_side_to_nchw_kernel<T><<<blocks_for(Cout * ld), kThreads, 0, s>>>(out, bias, b, Cout, L, yn);
      CUDA_CHECK_LAUNCH("side_by_side_to_nchw_kernel");
    }
  }
}

template <class T> void conv2d_backward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                        const T* w, const T* dy, T* dx, T* dw, T* db) {
  const int64_t L = g.out_plane(), K = g.col_rows() / groups, Cg = Cout / groups, nb = gpu_conv_chunk(g, N);
  T* any_out = db ? db : dw ? dw : dx;
  if (!any_out) return;
  const int dev = device_of(any_out);
  cudaStream_t s = stream(dev);
  if (db && Cout > 0) {
    conv_bias_backward_kernel<T><<<unsigned(Cout), kThreads, 0, s>>>(dy, N, Cout, L, db);
    CUDA_CHECK_LAUNCH("conv_bias_backward_kernel");
  }
  if (!dx && !dw) return;
  if (dw && (N == 0 || L == 0)) CUDA_CHECK(cudaMemsetAsync(dw, 0, size_t(Cout * K) * sizeof(T), s));
  if (dx && L == 0) CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(N * g.C * g.in_plane()) * sizeof(T), s));
  if (N == 0 || L == 0) return;
  DeviceBuffer<T> cols(g.col_rows() * nb * L, dev), wide(nb > 1 ? Cout * nb * L : 0, dev);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t b = std::min(nb, N - n0), ld = b * L;
    const T* d = dy + n0 * Cout * L;
    if (b > 1) {
      nchw_to_side_by_side_kernel<T><<<blocks_for(Cout * ld), kThreads, 0, s>>>(d, b, Cout, L, wide.get());
      CUDA_CHECK_LAUNCH("nchw_to_side_by_side_kernel");
      d = wide.get();
    }
    if (dw) {   // dW_g (Cg, K) (+)= dy_g (Cg, ld) @ cols_g (K, ld)^T, accumulated over chunks in order
      launch_im2col(g, x + n0 * g.C * g.in_plane(), b, cols.get(), s);
      cuda::gemm_batched<T>(per_group(groups, Cg * ld, K * ld, Cg * K), false, true, Cg, K, ld, T(1), d, ld, cols.get(),
                            ld, n0 == 0 ? T(0) : T(1), dw, K);
    }
    if (dx) {   // dcols_g (K, ld) = W_g (Cg, K)^T @ dy_g (Cg, ld), into cols (free again), then col2im
      cuda::gemm_batched<T>(per_group(groups, Cg * K, Cg * ld, K * ld), true, false, K, ld, Cg, T(1), w, K, d, ld, T(0),
                            cols.get(), ld);
      const int64_t n = b * g.C * g.in_plane();
      if (n > 0) {
        col2im_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(g, cols.get(), b, dx + n0 * g.C * g.in_plane());
        CUDA_CHECK_LAUNCH("col2im_kernel");
      }
    }
  }
}

template <class T> void max_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y, int64_t* idx) {
  const int64_t n = planes * g.out_plane();
  if (n == 0) return;
  max_pool2d_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream(device_of(y))>>>(g, planes, x, y, idx);
  CUDA_CHECK_LAUNCH("max_pool2d_forward_kernel");
}

template <class T> void max_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, const int64_t* idx, T* dx) {
  const int64_t n = planes * g.in_plane();
  if (n == 0) return;
  max_pool2d_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream(device_of(dx))>>>(g, planes, dy, idx, dx);
  CUDA_CHECK_LAUNCH("max_pool2d_backward_kernel");
}

template <class T> void avg_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y,
                                           bool count_include_pad, int64_t divisor_override) {
  const int64_t n = planes * g.out_plane();
  if (n == 0) return;
  avg_pool2d_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream(device_of(y))>>>(g, planes, x, y,
                                                                                     count_include_pad, divisor_override);
  CUDA_CHECK_LAUNCH("avg_pool2d_forward_kernel");
}

template <class T> void avg_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, T* dx,
                                            bool count_include_pad, int64_t divisor_override) {
  const int64_t n = planes * g.in_plane();
  if (n == 0) return;
  avg_pool2d_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream(device_of(dx))>>>(
      g, planes, dy, dx, count_include_pad, divisor_override);
  CUDA_CHECK_LAUNCH("avg_pool2d_backward_kernel");
}

#define ATTO_CUDA_CONV_INSTANTIATE(T)                                                                               \
  template void conv2d_forward<T>(const Window2d&, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*);     \
  template void conv2d_backward<T>(const Window2d&, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*, \
                                   T*);                                                                             \
  template void max_pool2d_forward<T>(const Window2d&, int64_t, const T*, T*, int64_t*);                            \
  template void max_pool2d_backward<T>(const Window2d&, int64_t, const T*, const int64_t*, T*);                     \
  template void avg_pool2d_forward<T>(const Window2d&, int64_t, const T*, T*, bool, int64_t);                       \
  template void avg_pool2d_backward<T>(const Window2d&, int64_t, const T*, T*, bool, int64_t);
ATTO_CUDA_CONV_INSTANTIATE(float)
ATTO_CUDA_CONV_INSTANTIATE(double)
#undef ATTO_CUDA_CONV_INSTANTIATE

}  // namespace atto::cuda
