// autograd/functions/rnn_cells.cpp -- lstm_pointwise (see rnn_cells.h): forward and backward
// kernels over contiguous rows, and the differentiable op. Pointwise, so any thread count gives
// bitwise the same result.
#include "autograd/functions/rnn_cells.h"

#include <cmath>

#include "autograd/function.h"
#include "autograd/functions/reduce.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel_for.h"
#include "tensor/dispatch.h"

namespace atto {

namespace cpu {

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

}  // namespace cpu

namespace {

struct LSTMPointwise {
  static constexpr const char* name = "LSTMPointwiseBackward";
  struct Saved : SavedBase { Tensor act, c; };
  static Tensor forward(Saved& s, const Tensor& gates_in, const Tensor& c_in) {
    Tensor gates = gates_in.contiguous(), c = c_in.contiguous();
    const int64_t B = c.size(0), H = c.size(1);
    Tensor act = empty({B, 5 * H}, {.dtype = gates.dtype(), .device = gates.device()});
    Tensor out = empty({B, 2 * H}, {.dtype = gates.dtype(), .device = gates.device()});
    visit_floating(gates.dtype(), "lstm_pointwise", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(gates.device(), lstm_pointwise_forward<T>, gates.data_ptr<T>(), c.data_ptr<T>(),
                     act.data_ptr<T>(), out.data_ptr<T>(), B, H);
    });
    s.act = act, s.c = c;
    return out;
  }
  // forward: i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the gate blocks;
  //          c' = f * c + i * g,  h' = o * tanh(c')
  // with dc' = dL/dc' + dL/dh' * o * (1 - tanh(c')^2):
  //   d i_pre = dc' * g * i (1 - i)        d f_pre = dc' * c * f (1 - f)
  //   d g_pre = dc' * i * (1 - g^2)        d o_pre = dL/dh' * tanh(c') * o (1 - o)
  //   dc = dc' * f
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    const int64_t B = s.c.size(0), H = s.c.size(1);
    Tensor dgates = empty({B, 4 * H}, {.dtype = dy.dtype(), .device = dy.device()});
    Tensor dc = empty(s.c.shape(), {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "lstm_pointwise", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dy.device(), lstm_pointwise_backward<T>, s.act.data_ptr<T>(), s.c.data_ptr<T>(),
                     dy.data_ptr<T>(), dgates.data_ptr<T>(), dc.data_ptr<T>(), B, H);
    });
    return {s.needs_input_grad(0) ? dgates : Tensor(), s.needs_input_grad(1) ? dc : Tensor()};
  }
};

struct LSTMSequence {
  static constexpr const char* name = "LSTMSequenceBackward";
  struct Saved : SavedBase {
    Tensor w_hh, h_prev, c_prev, act;
    bool has_bias = false, reverse = false;
  };
  static Tensor forward(Saved& s, const Tensor& xw_in, const Tensor& h0_in, const Tensor& c0_in, const Tensor& w_hh_in,
                        const Tensor& b_hh_in, bool reverse) {
    Tensor xw = xw_in.contiguous(), h0 = h0_in.contiguous(), c0 = c0_in.contiguous(), w_hh = w_hh_in.contiguous();
    Tensor b_hh = b_hh_in.defined() ? b_hh_in.contiguous() : Tensor();
    const int64_t steps = xw.size(0), B = xw.size(1), H = w_hh.size(1);
    TensorOptions o{.dtype = xw.dtype()};
    Tensor h_prev = empty({steps, B, H}, o), c_prev = empty({steps, B, H}, o);
    Tensor act = empty({steps, B, 5 * H}, o), out = empty({steps, B, 2 * H}, o);
    visit_floating(xw.dtype(), "lstm_sequence", [&](auto tag) {
      using T = decltype(tag);
      cpu::lstm_sequence_forward<T>(xw.data_ptr<T>(), h0.data_ptr<T>(), c0.data_ptr<T>(), w_hh.data_ptr<T>(),
                                    b_hh.defined() ? b_hh.data_ptr<T>() : nullptr, h_prev.data_ptr<T>(),
                                    c_prev.data_ptr<T>(), act.data_ptr<T>(), out.data_ptr<T>(), steps, B, H, reverse);
    });
    s.w_hh = w_hh, s.h_prev = h_prev, s.c_prev = c_prev, s.act = act;
    s.has_bias = b_hh.defined(), s.reverse = reverse;
    return out;
  }
  // Per step, lstm_pointwise's backward gives dgates_t; then dh_{t-1} = dgates_t W_hh, and over all
  // steps at once:  dW_hh = sum_t dgates_t^T h_{t-1},  db_hh = sum_t,b dgates_t,  dxw = dgates.
  static std::array<Tensor, 5> backward(Saved& s, const Tensor& dout_in) {
    Tensor dout = dout_in.contiguous();
    const int64_t steps = s.act.size(0), B = s.act.size(1), H = s.w_hh.size(1);
    TensorOptions o{.dtype = dout.dtype()};
    Tensor dgates = empty({steps, B, 4 * H}, o), dh0 = empty({B, H}, o), dc0 = empty({B, H}, o);
    Tensor dw_hh;
    visit_floating(dout.dtype(), "lstm_sequence", [&](auto tag) {
      using T = decltype(tag);
      cpu::lstm_sequence_backward<T>(dout.data_ptr<T>(), s.w_hh.data_ptr<T>(), s.c_prev.data_ptr<T>(),
                                     s.act.data_ptr<T>(), dgates.data_ptr<T>(), dh0.data_ptr<T>(), dc0.data_ptr<T>(),
                                     steps, B, H, s.reverse);
      if (s.needs_input_grad(3)) {
        dw_hh = empty({4 * H, H}, o);
        cpu::gemm<T>(true, false, 4 * H, H, steps * B, T(1), dgates.data_ptr<T>(), 4 * H, s.h_prev.data_ptr<T>(), H,
                     T(0), dw_hh.data_ptr<T>(), H);
      }
    });
    Tensor db_hh = s.has_bias && s.needs_input_grad(4) ? dgates.view({steps * B, 4 * H}).sum({0}) : Tensor();
    return {s.needs_input_grad(0) ? dgates : Tensor(), s.needs_input_grad(1) ? dh0 : Tensor(),
            s.needs_input_grad(2) ? dc0 : Tensor(), dw_hh, db_hh};
  }
};

}  // namespace

Tensor lstm_sequence(const Tensor& xw, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                     bool reverse) {
  ATTO_CHECK(w_hh.defined() && w_hh.ndim() == 2 && w_hh.size(0) == 4 * w_hh.size(1),
             "[lstm_sequence] w_hh must be [4H, H], got {}", w_hh.defined() ? w_hh.shape() : Shape{});
  const int64_t H = w_hh.size(1);
  ATTO_CHECK(xw.defined() && xw.ndim() == 3 && xw.size(2) == 4 * H && xw.size(0) > 0,
             "[lstm_sequence] xw must be [T, B, 4H] with T > 0 and H = {}, got {}", H,
             xw.defined() ? xw.shape() : Shape{});
  const Shape state{xw.size(1), H};
  ATTO_CHECK(h0.defined() && c0.defined() && h0.shape() == state && c0.shape() == state,
             "[lstm_sequence] h0 and c0 must be {}, got {} and {}", state, h0.defined() ? h0.shape() : Shape{},
             c0.defined() ? c0.shape() : Shape{});
  ATTO_CHECK(!b_hh.defined() || b_hh.shape() == Shape{4 * H}, "[lstm_sequence] b_hh must be [{}], got {}", 4 * H,
             b_hh.defined() ? b_hh.shape() : Shape{});
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh})
    ATTO_CHECK(!t->defined() || t->dtype() == xw.dtype(), "[lstm_sequence] every tensor must be {}, got {}",
               xw.dtype(), t->dtype());
  ATTO_CHECK(xw.is_floating_point() && xw.device().is_cpu() && h0.device().is_cpu() && c0.device().is_cpu() &&
                 w_hh.device().is_cpu() && (!b_hh.defined() || b_hh.device().is_cpu()),
             "[lstm_sequence] takes floating CPU tensors, got {} on {}", xw.dtype(), xw.device());
  return apply<LSTMSequence>(xw, h0, c0, w_hh, b_hh, reverse);
}

Tensor lstm_pointwise(const Tensor& gates, const Tensor& c) {
  ATTO_CHECK(gates.defined() && c.defined() && gates.ndim() == 2 && c.ndim() == 2 && gates.size(0) == c.size(0) &&
                 gates.size(1) == 4 * c.size(1),
             "[lstm_pointwise] expects gates [B, 4H] and c [B, H], got gates {} and c {}",
             gates.defined() ? gates.shape() : Shape{}, c.defined() ? c.shape() : Shape{});
  ATTO_CHECK(gates.dtype() == c.dtype() && gates.is_floating_point(),
             "[lstm_pointwise] gates and c must share a floating dtype, got {} and {}", gates.dtype(), c.dtype());
  check_same_device(gates, c, "lstm_pointwise");
  return apply<LSTMPointwise>(gates, c);
}

}  // namespace atto
