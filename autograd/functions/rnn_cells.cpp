// autograd/functions/rnn_cells.cpp -- lstm_pointwise and lstm_sequence (see rnn_cells.h) as
// differentiable ops. The kernels are tensor/cpu/rnn.h and cuda/rnn.cu, called through ATTO_ON_DEVICE.
#include "autograd/functions/rnn_cells.h"

#include <cmath>

#include "autograd/function.h"
#include "autograd/functions/reduce.h"
#include "tensor/cpu/rnn.h"
#include "tensor/dispatch.h"

namespace atto {

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
    TensorOptions o{.dtype = xw.dtype(), .device = xw.device()};
    Tensor h_prev = empty({steps, B, H}, o), c_prev = empty({steps, B, H}, o);
    Tensor act = empty({steps, B, 5 * H}, o), out = empty({steps, B, 2 * H}, o);
    visit_floating(xw.dtype(), "lstm_sequence", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(xw.device(), lstm_sequence_forward<T>, xw.data_ptr<T>(), h0.data_ptr<T>(), c0.data_ptr<T>(),
                     w_hh.data_ptr<T>(), b_hh.defined() ? b_hh.data_ptr<T>() : nullptr, h_prev.data_ptr<T>(),
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
    TensorOptions o{.dtype = dout.dtype(), .device = dout.device()};
    Tensor dgates = empty({steps, B, 4 * H}, o), dh0 = empty({B, H}, o), dc0 = empty({B, H}, o);
    Tensor dw_hh;
    visit_floating(dout.dtype(), "lstm_sequence", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dout.device(), lstm_sequence_backward<T>, dout.data_ptr<T>(), s.w_hh.data_ptr<T>(),
                     s.c_prev.data_ptr<T>(), s.act.data_ptr<T>(), dgates.data_ptr<T>(), dh0.data_ptr<T>(),
                     dc0.data_ptr<T>(), steps, B, H, s.reverse);
      if (s.needs_input_grad(3)) {
        dw_hh = empty({4 * H, H}, o);
        ATTO_ON_DEVICE(dout.device(), gemm<T>, true, false, 4 * H, H, steps * B, T(1), dgates.data_ptr<T>(), 4 * H,
                       s.h_prev.data_ptr<T>(), H, T(0), dw_hh.data_ptr<T>(), H);
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
  ATTO_CHECK(xw.is_floating_point(), "[lstm_sequence] takes floating tensors, got {}", xw.dtype());
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh})
    if (t->defined()) check_same_device(xw, *t, "lstm_sequence");
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
