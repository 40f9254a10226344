// tensor/cpu/rnn.h -- the LSTM kernels on the CPU (internal): the fused cell pointwise step and a whole
// layer's time loop, forward and backward. Twin: cuda/rnn.cu. The differentiable ops are in
// autograd/functions/rnn_cells.cpp. Pointwise work is split over rows only, so any thread count gives
// bitwise the same result.
//
// Shapes: B batch rows, H hidden size, G = 4H gate columns in PyTorch's order i, f, g, o.
//   gates [B, 4H]  c [B, H]  act [B, 5H] = (sigmoid i, sigmoid f, tanh g, sigmoid o, tanh c')
//   out [B, 2H] = (h' | c')  dy [B, 2H] = (dh' | dc')  dgates [B, 4H]
//   sequences add a leading [T] (steps) dim to xw, h_prev, c_prev, act, out, dout, dgates.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

template <class T> T sigmoid_of(T x) { return T(1) / (T(1) + std::exp(-x)); }

// act [B, 5H] receives sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) and tanh(c') (for backward);
// out [B, 2H] receives h', c'.
template <class T> void lstm_pointwise_forward(const T* gates, const T* c, T* act, T* out, int64_t B, int64_t H) {
  parallel_for(0, B, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* g = gates + b * 4 * H;
      T* a = act + b * 5 * H;
      T* y = out + b * 2 * H;
      for (int64_t j = 0; j < H; ++j) {
        T i = sigmoid_of(g[j]), f = sigmoid_of(g[H + j]), cand = std::tanh(g[2 * H + j]), o = sigmoid_of(g[3 * H + j]);
        T c_new = f * c[b * H + j] + i * cand;
        T tc = std::tanh(c_new);
        a[j] = i, a[H + j] = f, a[2 * H + j] = cand, a[3 * H + j] = o, a[4 * H + j] = tc;
        y[j] = o * tc;
        y[H + j] = c_new;
      }
    }
  });
}

// dy [B, 2H] = (dh', dc'); writes dgates [B, 4H] and dc [B, H] (see the backward's formulas).
template <class T>
void lstm_pointwise_backward(const T* act, const T* c, const T* dy, T* dgates, T* dc, int64_t B, int64_t H) {
  parallel_for(0, B, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* a = act + b * 5 * H;
      const T* d = dy + b * 2 * H;
      T* dg = dgates + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        T i = a[j], f = a[H + j], cand = a[2 * H + j], o = a[3 * H + j], tc = a[4 * H + j];
        T dcn = d[H + j] + d[j] * o * (T(1) - tc * tc);   // dL/dc' through both c' and h'
        dg[j] = dcn * cand * i * (T(1) - i);
        dg[H + j] = dcn * c[b * H + j] * f * (T(1) - f);
        dg[2 * H + j] = dcn * i * (T(1) - cand * cand);
        dg[3 * H + j] = d[j] * tc * o * (T(1) - o);
        dc[b * H + j] = dcn * f;
      }
    }
  });
}

// One layer over T steps. For each step t (in walk order) keeps h_prev[t], c_prev[t] (the state the
// step started from), act[t] (as lstm_pointwise_forward) and writes out[t] = [h_t | c_t].
template <class T>
void lstm_sequence_forward(const T* xw, const T* h0, const T* c0, const T* w_hh, const T* b_hh, T* h_prev, T* c_prev,
                           T* act, T* out, int64_t steps, int64_t B, int64_t H, bool reverse) {
  const int64_t G = 4 * H;
  std::vector<T> gates(size_t(B * G));
  const T *h = h0, *c = c0;
  int64_t state_stride = H;   // row stride of h and c: H for h0/c0, 2H inside out
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    T* hp = h_prev + t * B * H;
    T* cp = c_prev + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      std::copy(h + b * state_stride, h + b * state_stride + H, hp + b * H);
      std::copy(c + b * state_stride, c + b * state_stride + H, cp + b * H);
    }
    // gates = xw[t] + (h W_hh^T + b_hh), added in the order of the per-step composite
    // (xw_t + linear(h, w_hh, b_hh)), so that both give bitwise the same states.
    gemm<T>(false, true, B, G, H, T(1), hp, H, w_hh, H, T(0), gates.data(), G);
    const T* x = xw + t * B * G;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < G; ++j) {
        T& g = gates[size_t(b * G + j)];
        g = x[b * G + j] + (b_hh ? g + b_hh[j] : g);
      }
    T* y = out + t * B * 2 * H;
    lstm_pointwise_forward<T>(gates.data(), cp, act + t * B * 5 * H, y, B, H);
    h = y, c = y + H, state_stride = 2 * H;
  }
}

// dout [T, B, 2H] = (dL/dh_t, dL/dc_t) from outside the layer. Writes dgates [T, B, 4H] (which is
// dL/dxw) and dh0, dc0 [B, H]; walks the steps backwards, carrying dh and dc to the previous step.
template <class T>
void lstm_sequence_backward(const T* dout, const T* w_hh, const T* c_prev, const T* act, T* dgates, T* dh0, T* dc0,
                            int64_t steps, int64_t B, int64_t H, bool reverse) {
  const int64_t G = 4 * H;
  std::vector<T> dy(size_t(B * 2 * H));
  std::fill(dh0, dh0 + B * H, T(0));   // dh0/dc0 carry the gradient of the next step's state
  std::fill(dc0, dc0 + B * H, T(0));
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    const T* d = dout + t * B * 2 * H;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        dy[size_t(b * 2 * H + j)] = d[b * 2 * H + j] + dh0[b * H + j];
        dy[size_t(b * 2 * H + H + j)] = d[b * 2 * H + H + j] + dc0[b * H + j];
      }
    T* dg = dgates + t * B * G;
    lstm_pointwise_backward<T>(act + t * B * 5 * H, c_prev + t * B * H, dy.data(), dg, dc0, B, H);
    gemm<T>(false, false, B, H, G, T(1), dg, G, w_hh, H, T(0), dh0, H);   // dh = dgates W_hh
  }
}

}  // namespace atto::cpu
