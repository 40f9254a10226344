// cuda/rnn.cu -- the LSTM kernels on the GPU. Twin: tensor/cpu/rnn.h (shapes and formulas there;
// the backward's derivation is in autograd/functions/rnn_cells.cpp).
//
// The cell's pointwise part is one kernel, one thread per (b, j) hidden unit: it reads the four gate
// pre-activations, writes the five saved activations and (h', c') in one pass. A sequence step is
// one cuBLAS gemm (h_{t-1} W_hh^T) and then that kernel, which also adds the precomputed input
// projection xw_t and b_hh on the way in (as xw_t + (hW + b_hh), the CPU's order). The backward
// walks the steps in reverse: one kernel (carried dh, dc in; dgates_t and the new dc out) and one
// gemm (dh_{t-1} = dgates_t W_hh) per step; dW_hh is one gemm over all steps in the caller.
// Everything is pointwise or cuBLAS: deterministic, no atomics.
#include "cuda/gemm.h"
#include "cuda/launch.cuh"
#include "cuda/scratch.h"
#include "cuda/rnn.h"
#include "cuda/runtime.h"

namespace atto::cuda {

namespace {

__device__ float exp_of(float x) { return expf(x); }
__device__ double exp_of(double x) { return exp(x); }
__device__ float tanh_of(float x) { return tanhf(x); }
__device__ double tanh_of(double x) { return tanh(x); }
template <class T> __device__ T sigmoid_of(T x) { return T(1) / (T(1) + exp_of(-x)); }

// Hidden unit j of one row: pre-activations (i, f, g, o) and the old cell c -> act row a [5H] and
// out row y [2H] = (h' | c').
template <class T>
__device__ void cell_forward(T pre_i, T pre_f, T pre_g, T pre_o, T c, T* a, T* y, int64_t H, int64_t j) {
  const T i = sigmoid_of(pre_i), f = sigmoid_of(pre_f), cand = tanh_of(pre_g), o = sigmoid_of(pre_o);
  const T c_new = f * c + i * cand;
  const T tc = tanh_of(c_new);
  a[j] = i, a[H + j] = f, a[2 * H + j] = cand, a[3 * H + j] = o, a[4 * H + j] = tc;
  y[j] = o * tc;
  y[H + j] = c_new;
}

// Hidden unit j of one row: (dh', dc') and the saved act row a, old cell c -> dgates row dg [4H];
// returns dc = dL/dc (the old cell's gradient).
template <class T> __device__ T cell_backward(const T* a, T c, T dh, T dc_next, T* dg, int64_t H, int64_t j) {
  const T i = a[j], f = a[H + j], cand = a[2 * H + j], o = a[3 * H + j], tc = a[4 * H + j];
  const T dcn = dc_next + dh * o * (T(1) - tc * tc);   // dL/dc' through both c' and h'
  dg[j] = dcn * cand * i * (T(1) - i);
  dg[H + j] = dcn * c * f * (T(1) - f);
  dg[2 * H + j] = dcn * i * (T(1) - cand * cand);
  dg[3 * H + j] = dh * tc * o * (T(1) - o);
  return dcn * f;
}

#define ATTO_GRID_STRIDE(e, n) \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (n); e += int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void lstm_pointwise_forward_kernel(const T* gates, const T* c, T* act, T* out, int64_t B, int64_t H) {
  ATTO_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H;
    const T* g = gates + b * 4 * H;
    cell_forward(g[j], g[H + j], g[2 * H + j], g[3 * H + j], c[e], act + b * 5 * H, out + b * 2 * H, H, j);
  }
}

template <class T> __global__ void lstm_pointwise_backward_kernel(const T* act, const T* c, const T* dy, T* dgates,
                                                                  T* dc, int64_t B, int64_t H) {
  ATTO_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H;
    const T* d = dy + b * 2 * H;
    dc[e] = cell_backward(act + b * 5 * H, c[e], d[j], d[H + j], dgates + b * 4 * H, H, j);
  }
}

// One forward step: pre-activation = xw_t + (hw + b_hh), then the cell. hw [B, 4H] = h_{t-1} W_hh^T.
template <class T> __global__ void lstm_step_forward_kernel(const T* xw, const T* hw, const T* b_hh, const T* c,
                                                            T* act, T* out, int64_t B, int64_t H) {
  ATTO_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H, G = 4 * H;
    auto pre = [&](int64_t k) {
      const int64_t col = k * H + j;
      const T r = hw[b * G + col];
      return xw[b * G + col] + (b_hh ? r + b_hh[col] : r);
    };
    cell_forward(pre(0), pre(1), pre(2), pre(3), c[e], act + b * 5 * H, out + b * 2 * H, H, j);
  }
}

// One backward step: (dh', dc') = dout_t + the gradient carried from the later step (dh, dc [B, H]);
// writes dgates_t and replaces dc with the gradient of this step's input cell.
template <class T> __global__ void lstm_step_backward_kernel(const T* dout, const T* act, const T* c, const T* dh,
                                                             T* dc, T* dgates, int64_t B, int64_t H) {
  ATTO_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H;
    const T* d = dout + b * 2 * H;
    dc[e] = cell_backward(act + b * 5 * H, c[e], d[j] + dh[e], d[H + j] + dc[e], dgates + b * 4 * H, H, j);
  }
}

#undef ATTO_GRID_STRIDE

}  // namespace

template <class T> void lstm_pointwise_forward(const T* gates, const T* c, T* act, T* out, int64_t B, int64_t H) {
  if (B * H == 0) return;
  lstm_pointwise_forward_kernel<T><<<blocks_for(B * H), kThreads, 0, stream(device_of(out))>>>(gates, c, act, out, B, H);
  CUDA_CHECK_LAUNCH("lstm_pointwise_forward_kernel");
}

template <class T>
void lstm_pointwise_backward(const T* act, const T* c, const T* dy, T* dgates, T* dc, int64_t B, int64_t H) {
  if (B * H == 0) return;
  lstm_pointwise_backward_kernel<T><<<blocks_for(B * H), kThreads, 0, stream(device_of(dgates))>>>(act, c, dy, dgates,
                                                                                                   dc, B, H);
  CUDA_CHECK_LAUNCH("lstm_pointwise_backward_kernel");
}

// Step t (walk order) saves the state it starts from in h_prev[t], c_prev[t]: h0/c0 (rows of H) for
// the first step, then the previous step's out (rows of 2H: h in [0, H), c in [H, 2H)).
template <class T>
void lstm_sequence_forward(const T* xw, const T* h0, const T* c0, const T* w_hh, const T* b_hh, T* h_prev, T* c_prev,
                           T* act, T* out, int64_t steps, int64_t B, int64_t H, bool reverse) {
  if (steps * B * H == 0) return;
  const int64_t G = 4 * H;
  const int dev = device_of(out);
  cudaStream_t s = stream(dev);
  DeviceBuffer<T> hw(B * G, dev);
  const T *h = h0, *c = c0;
  int64_t state_stride = H;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t t = reverse ? steps - 1 - step : step;
    T* hp = h_prev + t * B * H;
    T* cp = c_prev + t * B * H;
    const size_t row = size_t(H) * sizeof(T), pitch = size_t(state_stride) * sizeof(T);
    CUDA_CHECK(cudaMemcpy2DAsync(hp, row, h, pitch, row, size_t(B), cudaMemcpyDeviceToDevice, s));
    CUDA_CHECK(cudaMemcpy2DAsync(cp, row, c, pitch, row, size_t(B), cudaMemcpyDeviceToDevice, s));
    gemm<T>(false, true, B, G, H, T(1), hp, H, w_hh, H, T(0), hw.get(), G);   // hw = h_{t-1} W_hh^T
    T* y = out + t * B * 2 * H;
    lstm_step_forward_kernel<T><<<blocks_for(B * H), kThreads, 0, s>>>(xw + t * B * G, hw.get(), b_hh, cp,
                                                                       act + t * B * 5 * H, y, B, H);
    CUDA_CHECK_LAUNCH("lstm_step_forward_kernel");
    h = y, c = y + H, state_stride = 2 * H;
  }
}

// dh0, dc0 carry the gradient of the later step's input state while the walk runs backwards, and
// end as the gradient of h0, c0.
template <class T>
void lstm_sequence_backward(const T* dout, const T* w_hh, const T* c_prev, const T* act, T* dgates, T* dh0, T* dc0,
                            int64_t steps, int64_t B, int64_t H, bool reverse) {
  if (B * H == 0) return;
  const int64_t G = 4 * H;
  cudaStream_t s = stream(device_of(dh0));
  CUDA_CHECK(cudaMemsetAsync(dh0, 0, size_t(B * H) * sizeof(T), s));
  CUDA_CHECK(cudaMemsetAsync(dc0, 0, size_t(B * H) * sizeof(T), s));
  for (int64_t step = steps - 1; step >= 0; --step) {
    const int64_t t = reverse ? steps - 1 - step : step;
    T* dg = dgates + t * B * G;
    lstm_step_backward_kernel<T><<<blocks_for(B * H), kThreads, 0, s>>>(dout + t * B * 2 * H, act + t * B * 5 * H,
                                                                        c_prev + t * B * H, dh0, dc0, dg, B, H);
    CUDA_CHECK_LAUNCH("lstm_step_backward_kernel");
    gemm<T>(false, false, B, H, G, T(1), dg, G, w_hh, H, T(0), dh0, H);   // dh_{t-1} = dgates_t W_hh
  }
}

#define ATTO_CUDA_RNN_INSTANTIATE(T)                                                                            \
  template void lstm_pointwise_forward<T>(const T*, const T*, T*, T*, int64_t, int64_t);                        \
  template void lstm_pointwise_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t);             \
  template void lstm_sequence_forward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*,       \
                                         int64_t, int64_t, int64_t, bool);                                      \
  template void lstm_sequence_backward<T>(const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, \
                                          int64_t, bool);
ATTO_CUDA_RNN_INSTANTIATE(float)
ATTO_CUDA_RNN_INSTANTIATE(double)
#undef ATTO_CUDA_RNN_INSTANTIATE

}  // namespace atto::cuda
