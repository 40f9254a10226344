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
#include "tensor/cpu/loops.h"   // run_loop
#include "tensor/cpu/parallel_for.h"
#include "tensor/elementwise_fns.h"

namespace atto::cpu {

// The gates use the formulas of the sigmoid and tanh ops (tensor/elementwise_fns.h): for float the
// vectorisable exp/tanh of vec_math.h, so with `vectorized` the cell loops run 8 or 16 columns at a
// time (NOTE [ CPU vector width ]), and the fused cell agrees bit for bit with the composite.
template <class T> [[gnu::always_inline]] inline T sigmoid_of(T x) { return fns::Sigmoid{}.fwd(x); }
template <class T> [[gnu::always_inline]] inline T tanh_of(T x) { return fns::Tanh{}.fwd(x); }

// One batch row of the cell, columns j < H. Every array the loop touches is its own __restrict
// pointer indexed by j alone: GCC vectorises that form, but neither a[k * H + j] ("complicated access
// pattern") nor pointers it would have to check pairwise for overlap first.
template <class T>
[[gnu::always_inline]] inline void lstm_cell_columns(const T* __restrict gi, const T* __restrict gf,
                                                     const T* __restrict gg, const T* __restrict go,
                                                     const T* __restrict c, T* __restrict ai, T* __restrict af,
                                                     T* __restrict ag, T* __restrict ao, T* __restrict atc,
                                                     T* __restrict h_new, T* __restrict c_new, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigmoid_of(gi[j]), f = sigmoid_of(gf[j]), cand = tanh_of(gg[j]), o = sigmoid_of(go[j]);
    const T cn = f * c[j] + i * cand;
    const T tc = tanh_of(cn);
    ai[j] = i, af[j] = f, ag[j] = cand, ao[j] = o, atc[j] = tc;
    h_new[j] = o * tc;
    c_new[j] = cn;
  }
}

template <class T>
[[gnu::always_inline]] inline void lstm_cell_columns_backward(const T* __restrict ai, const T* __restrict af,
                                                              const T* __restrict ag, const T* __restrict ao,
                                                              const T* __restrict atc, const T* __restrict c,
                                                              const T* __restrict dh, const T* __restrict dc_next,
                                                              T* __restrict dgi, T* __restrict dgf, T* __restrict dgg,
                                                              T* __restrict dgo, T* __restrict dc, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = ai[j], f = af[j], cand = ag[j], o = ao[j], tc = atc[j];
    const T dcn = dc_next[j] + dh[j] * o * (T(1) - tc * tc);   // dL/dc' through both c' and h'
    dgi[j] = dcn * cand * i * (T(1) - i);
    dgf[j] = dcn * c[j] * f * (T(1) - f);
    dgg[j] = dcn * i * (T(1) - cand * cand);
    dgo[j] = dh[j] * tc * o * (T(1) - o);
    dc[j] = dcn * f;
  }
}

// act [B, 5H] receives sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) and tanh(c') (for backward);
// out [B, 2H] receives h', c'.
template <class T> void lstm_pointwise_forward(const T* gates, const T* c, T* act, T* out, int64_t B, int64_t H) {
  parallel_for(0, B, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t b0, int64_t b1) {
    run_loop<T>([&]() ATTO_INLINE_LOOP {
      for (int64_t b = b0; b < b1; ++b) {
        const T* g = gates + b * 4 * H;
        T* a = act + b * 5 * H;
        T* y = out + b * 2 * H;
        lstm_cell_columns(g, g + H, g + 2 * H, g + 3 * H, c + b * H, a, a + H, a + 2 * H, a + 3 * H, a + 4 * H, y,
                          y + H, H);
      }
    });
  });
}

// dy [B, 2H] = (dh', dc'); writes dgates [B, 4H] and dc [B, H] (see the backward's formulas).
template <class T>
void lstm_pointwise_backward(const T* act, const T* c, const T* dy, T* dgates, T* dc, int64_t B, int64_t H) {
  parallel_for(0, B, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t b0, int64_t b1) {
    run_loop<T>([&]() ATTO_INLINE_LOOP {
      for (int64_t b = b0; b < b1; ++b) {
        const T* a = act + b * 5 * H;
        const T* d = dy + b * 2 * H;
        T* dg = dgates + b * 4 * H;
        lstm_cell_columns_backward(a, a + H, a + 2 * H, a + 3 * H, a + 4 * H, c + b * H, d, d + H, dg, dg + H,
                                   dg + 2 * H, dg + 3 * H, dc + b * H, H);
      }
    });
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
