// autograd/functions/rnn_cells.cpp -- lstm_pointwise (see rnn_cells.h): forward and backward
// kernels over contiguous rows, and the differentiable op. Pointwise, so any thread count gives
// bitwise the same result.
#include "autograd/functions/rnn_cells.h"

#include <cmath>

#include "autograd/function.h"
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

}  // namespace

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
