// nn/rnn.cpp -- the recurrent cells and the time loop of nn/rnn.h (equations and shapes there and in
// docs/lstm.md). Everything is built from differentiable ops (linear, chunk, sigmoid, tanh, where,
// stack, cat), so autograd differentiates through time on its own: no hand-written backward here.
//
// A cell's gates are  x @ W_ih^T + b_ih  +  h @ W_hh^T + b_hh.  The first half does not depend on
// the state, so the time loop computes it for all T steps with one matmul per layer and direction
// ([T * B, I] @ W_ih^T) and each step only adds the recurrent half: the *_step functions below take
// that precomputed input projection `xw`, and the public cells are  step(linear(x, w_ih, b_ih), ...).
#include "nn/rnn.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/matmul.h"
#include "autograd/functions/rnn_cells.h"
#include "autograd/functions/shape_ops.h"
#include "nn/init.h"

namespace atto {

namespace {

int64_t gate_count(RNNMode mode) { return mode == RNNMode::LSTM ? 4 : mode == RNNMode::GRU ? 3 : 1; }

const char* mode_name(RNNMode mode) {
  switch (mode) {
    case RNNMode::RNN_TANH: return "rnn_tanh";
    case RNNMode::RNN_RELU: return "rnn_relu";
    case RNNMode::LSTM: return "lstm";
    case RNNMode::GRU: return "gru";
  }
  return "rnn";
}

// ---- one step, given xw = x @ W_ih^T + b_ih ([B, G * H]) -----------------------------------------

// h' = tanh(xw + h @ W_hh^T + b_hh)   (relu for RNN_RELU)
Tensor rnn_step(const Tensor& xw, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh, bool relu_act) {
  Tensor pre = xw + linear(h, w_hh, b_hh);
  return relu_act ? relu(pre) : tanh(pre);
}

// gates = xw + h @ W_hh^T + b_hh, split in PyTorch's order i, f, g, o:
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
//   h' = sigmoid(o) * tanh(c')
std::pair<Tensor, Tensor> lstm_step_composite(const Tensor& xw, const Tensor& h, const Tensor& c, const Tensor& w_hh,
                                              const Tensor& b_hh) {
  Tensor gates = xw + linear(h, w_hh, b_hh);
  std::vector<Tensor> g = chunk(gates, 4, 1);
  Tensor in_gate = sigmoid(g[0]), forget_gate = sigmoid(g[1]), cell_cand = tanh(g[2]), out_gate = sigmoid(g[3]);
  Tensor c_new = forget_gate * c + in_gate * cell_cand;
  Tensor h_new = out_gate * tanh(c_new);
  return {h_new, c_new};
}

// The same step with the pointwise part (everything after the gates) as one fused op: one node
// instead of eleven, which roughly halves the time of an LSTM's backward.
std::pair<Tensor, Tensor> lstm_step(const Tensor& xw, const Tensor& h, const Tensor& c, const Tensor& w_hh,
                                    const Tensor& b_hh) {
  const int64_t H = c.size(1);
  Tensor hc = lstm_pointwise(xw + linear(h, w_hh, b_hh), c);   // [B, 2H] = [h' | c']
  return {hc.narrow(1, 0, H), hc.narrow(1, H, H)};
}

// The reset gate r scales only the recurrent part of the candidate n, so the two projections are
// chunked separately (PyTorch's formula):
//   r = sigmoid(xw_r + hw_r),  z = sigmoid(xw_z + hw_z),  n = tanh(xw_n + r * hw_n)
//   h' = (1 - z) * n + z * h  =  n + z * (h - n)
Tensor gru_step(const Tensor& xw, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh) {
  std::vector<Tensor> xg = chunk(xw, 3, 1);
  std::vector<Tensor> hg = chunk(linear(h, w_hh, b_hh), 3, 1);
  Tensor r = sigmoid(xg[0] + hg[0]);
  Tensor z = sigmoid(xg[1] + hg[1]);
  Tensor n = tanh(xg[2] + r * hg[2]);
  return n + z * (h - n);
}

// The T steps of x [T, ...] as views [...]. A step's view is a narrow of x, and a narrow's backward
// materialises a gradient of its input's full size: T steps cut straight from x would cost
// O(T^2) in backward. Halving recursively costs O(T log T): each level's pieces add up to x.
void unbind_steps(const Tensor& x, int64_t first, std::vector<Tensor>& out) {
  const int64_t n = x.size(0);
  if (n == 1) {
    out[size_t(first)] = x.select(0, 0);
    return;
  }
  const int64_t half = n / 2;
  unbind_steps(x.narrow(0, 0, half), first, out);
  unbind_steps(x.narrow(0, half, n - half), first + half, out);
}

std::vector<Tensor> unbind_steps(const Tensor& x) {
  std::vector<Tensor> out(static_cast<size_t>(x.size(0)));
  if (!x.requires_grad()) {   // no backward: plain selects
    for (int64_t t = 0; t < x.size(0); ++t) out[size_t(t)] = x.select(0, t);
  } else {
    unbind_steps(x, 0, out);
  }
  return out;
}

// ---- checks ------------------------------------------------------------------------------------------

// Weights of one layer and direction: w_ih [G * H, in_features], w_hh [G * H, H], biases [G * H].
// Returns H.
int64_t check_weights(const char* op, int64_t gates, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                      const Tensor& b_hh, DType dtype, const std::string& where_) {
  ATTO_CHECK(w_ih.defined() && w_hh.defined(), "[{}] {}w_ih and w_hh must be defined", op, where_);
  ATTO_CHECK(w_hh.ndim() == 2 && w_hh.size(0) == gates * w_hh.size(1),
             "[{}] {}w_hh must be [{} * hidden_size, hidden_size], got {}", op, where_, gates, w_hh.shape());
  int64_t H = w_hh.size(1);
  ATTO_CHECK(w_ih.ndim() == 2 && w_ih.size(0) == gates * H,
             "[{}] {}w_ih must be [{} * hidden_size, input_size] = [{}, *] (w_hh is {}), got {}", op, where_, gates,
             gates * H, w_hh.shape(), w_ih.shape());
  ATTO_CHECK(b_ih.defined() == b_hh.defined(), "[{}] {}b_ih and b_hh must both be given or both be omitted", op,
             where_);
  if (b_ih.defined()) {
    ATTO_CHECK(b_ih.shape() == Shape{gates * H} && b_hh.shape() == Shape{gates * H},
               "[{}] {}biases must be [{}] ({} * hidden_size), got b_ih {} and b_hh {}", op, where_, gates * H, gates,
               b_ih.shape(), b_hh.shape());
  }
  for (const Tensor* t : {&w_ih, &w_hh, &b_ih, &b_hh}) {
    if (t->defined())
      ATTO_CHECK(t->dtype() == dtype, "[{}] {}weights must have the input's dtype {}, got {}", op, where_, dtype,
                 t->dtype());
  }
  return H;
}

// A cell's x [B, I] or [I] and state [B, H] or [H]; returns whether x is batched.
bool check_cell(const char* op, int64_t gates, const Tensor& x, const std::vector<const Tensor*>& states,
                const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  ATTO_CHECK(x.defined() && (x.ndim() == 1 || x.ndim() == 2),
             "[{}] input must be [batch, input_size] or [input_size], got {}", op, x.defined() ? x.shape() : Shape{});
  ATTO_CHECK(x.is_floating_point(), "[{}] input must be float32 or float64, got {}", op, x.dtype());
  int64_t H = check_weights(op, gates, w_ih, w_hh, b_ih, b_hh, x.dtype(), "");
  ATTO_CHECK(x.shape().back() == w_ih.size(1), "[{}] input has {} features (input is {}), but w_ih is {}", op,
             x.shape().back(), x.shape(), w_ih.shape());
  bool batched = x.ndim() == 2;
  Shape want = batched ? Shape{x.size(0), H} : Shape{H};
  for (const Tensor* s : states) {
    ATTO_CHECK(s->defined() && s->shape() == want && s->dtype() == x.dtype(),
               "[{}] state must be {} {} for input {} (hidden_size {}), got {}", op, x.dtype(), want, x.shape(), H,
               s->defined() ? fmt::format("{} {}", s->dtype(), s->shape()) : std::string("undefined"));
  }
  return batched;
}

}  // namespace

// ---- cells --------------------------------------------------------------------------------------------
// Unbatched inputs ([I] and [H]) run as a batch of one.

Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  bool batched = check_cell("rnn_tanh_cell", 1, x, {&h}, w_ih, w_hh, b_ih, b_hh);
  Tensor xb = batched ? x : x.unsqueeze(0), hb = batched ? h : h.unsqueeze(0);
  Tensor y = rnn_step(linear(xb, w_ih, b_ih), hb, w_hh, b_hh, false);
  return batched ? y : y.squeeze(0);
}

Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  bool batched = check_cell("rnn_relu_cell", 1, x, {&h}, w_ih, w_hh, b_ih, b_hh);
  Tensor xb = batched ? x : x.unsqueeze(0), hb = batched ? h : h.unsqueeze(0);
  Tensor y = rnn_step(linear(xb, w_ih, b_ih), hb, w_hh, b_hh, true);
  return batched ? y : y.squeeze(0);
}

std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const std::pair<Tensor, Tensor>& hc, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  bool batched = check_cell("lstm_cell", 4, x, {&hc.first, &hc.second}, w_ih, w_hh, b_ih, b_hh);
  auto batch = [&](const Tensor& t) { return batched ? t : t.unsqueeze(0); };
  auto [h, c] = lstm_step(linear(batch(x), w_ih, b_ih), batch(hc.first), batch(hc.second), w_hh, b_hh);
  if (!batched) return {h.squeeze(0), c.squeeze(0)};
  return {h, c};
}

namespace detail {
std::pair<Tensor, Tensor> lstm_cell_composite(const Tensor& x, const std::pair<Tensor, Tensor>& hc, const Tensor& w_ih,
                                              const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check_cell("lstm_cell", 4, x, {&hc.first, &hc.second}, w_ih, w_hh, b_ih, b_hh);
  ATTO_CHECK(x.ndim() == 2, "[lstm_cell] the composite form takes batched inputs, got {}", x.shape());
  return lstm_step_composite(linear(x, w_ih, b_ih), hc.first, hc.second, w_hh, b_hh);
}
}  // namespace detail

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  bool batched = check_cell("gru_cell", 3, x, {&h}, w_ih, w_hh, b_ih, b_hh);
  Tensor xb = batched ? x : x.unsqueeze(0), hb = batched ? h : h.unsqueeze(0);
  Tensor y = gru_step(linear(xb, w_ih, b_ih), hb, w_hh, b_hh);
  return batched ? y : y.squeeze(0);
}

// ---- lengths ----------------------------------------------------------------------------------------------

SeqLengths::SeqLengths(const Tensor& lengths) {
  if (!lengths.defined()) return;
  ATTO_CHECK(lengths.ndim() == 1 && lengths.dtype() == kInt64, "[rnn] lengths must be a 1-d int64 tensor, got {} {}",
             lengths.dtype(), lengths.shape());
  lengths_ = lengths.to_vector<int64_t>();
  given_ = true;
}

// ---- the time loop ----------------------------------------------------------------------------------------

RNNResult rnn_forward(RNNMode mode, const Tensor& input, const Tensor& h0, const Tensor& c0,
                      const std::vector<Tensor>& params, const RNNForwardOptions& opt, const char* op) {
  const bool is_lstm = mode == RNNMode::LSTM;
  const int64_t G = gate_count(mode);
  const int64_t L = opt.num_layers, D = opt.bidirectional ? 2 : 1;
  const int64_t per_dir = opt.has_biases ? 4 : 2;   // tensors per layer and direction in `params`

  // ---- checks: input [T, B, I] (or [B, T, I], or unbatched [T, I]), params, states, lengths
  ATTO_CHECK(input.defined() && (input.ndim() == 2 || input.ndim() == 3),
             "[{}] input must be 3-d {} or 2-d unbatched [seq_len, input_size], got {}", op,
             opt.batch_first ? "[batch, seq_len, input_size] (batch_first)" : "[seq_len, batch, input_size]",
             input.defined() ? input.shape() : Shape{});
  ATTO_CHECK(input.is_floating_point(), "[{}] input must be float32 or float64, got {}", op, input.dtype());
  ATTO_CHECK(L >= 1, "[{}] num_layers must be at least 1, got {}", op, L);
  ATTO_CHECK(opt.dropout >= 0.0 && opt.dropout <= 1.0, "[{}] dropout must be in [0, 1], got {}", op, opt.dropout);
  ATTO_CHECK(int64_t(params.size()) == L * D * per_dir,
             "[{}] expected {} parameter tensors ({} layers x {} directions x {}), got {}", op, L * D * per_dir, L, D,
             per_dir, params.size());
  const bool batched = input.ndim() == 3;
  // Work in [T, B, I]: a batch of one for an unbatched input, a transposed view for batch_first.
  Tensor x = !batched ? input.unsqueeze(1) : opt.batch_first ? input.transpose(0, 1) : input;
  const int64_t T = x.size(0), B = x.size(1);
  ATTO_CHECK(T >= 1, "[{}] the sequence must have at least one step, input is {}", op, input.shape());

  std::vector<int64_t> hidden(size_t(L * D));
  for (int64_t layer = 0; layer < L; ++layer) {
    for (int64_t d = 0; d < D; ++d) {
      const Tensor* p = &params[size_t((layer * D + d) * per_dir)];
      Tensor b_ih = opt.has_biases ? p[2] : Tensor(), b_hh = opt.has_biases ? p[3] : Tensor();
      std::string where_ = fmt::format("layer {}{}: ", layer, d ? " (reverse)" : "");
      hidden[size_t(layer * D + d)] = check_weights(op, G, p[0], p[1], b_ih, b_hh, input.dtype(), where_);
    }
  }
  const int64_t H = hidden[0];
  for (int64_t i = 0; i < L * D; ++i) {
    const Tensor& w_ih = params[size_t(i * per_dir)];
    int64_t in_features = i < D ? x.size(2) : D * H;
    ATTO_CHECK(hidden[size_t(i)] == H, "[{}] every layer must have hidden_size {}, but layer {} has {}", op, H, i / D,
               hidden[size_t(i)]);
    if (i < D) {
      ATTO_CHECK(w_ih.size(1) == in_features, "[{}] input has {} features (input is {}), but weight_ih_l0 is {}", op,
                 x.size(2), input.shape(), w_ih.shape());
    } else {
      ATTO_CHECK(w_ih.size(1) == in_features,
                 "[{}] layer {} takes the previous layer's {} features, but its w_ih is {}", op, i / D, in_features,
                 w_ih.shape());
    }
  }

  // States: [D * L, B, H] (unbatched: [D * L, H]); undefined means zeros.
  Shape state_shape = batched ? Shape{D * L, B, H} : Shape{D * L, H};
  auto initial_state = [&](const Tensor& s, const char* name) {
    if (!s.defined()) return zeros({D * L, B, H}, {.dtype = input.dtype(), .device = input.device()});
    ATTO_CHECK(s.shape() == state_shape && s.dtype() == input.dtype(),
               "[{}] {} must be {} {} (num_layers * num_directions, batch, hidden_size) for input {}, got {} {}", op,
               name, input.dtype(), state_shape, input.shape(), s.dtype(), s.shape());
    return batched ? s : s.unsqueeze(1);
  };
  Tensor hx = initial_state(h0, "h0");
  Tensor cx = is_lstm ? initial_state(c0, "c0") : Tensor();

  // Lengths -> a [T, B, 1] bool mask: mask[t][b] is true while step t is inside sequence b.
  Tensor mask;
  if (opt.lengths.given()) {
    const std::vector<int64_t>& len = opt.lengths.values();
    ATTO_CHECK(batched, "[{}] lengths need a batched input, got {}", op, input.shape());
    ATTO_CHECK(int64_t(len.size()) == B, "[{}] got {} lengths for a batch of {} (input {})", op, len.size(), B,
               input.shape());
    mask = empty({T, B, 1}, {.dtype = kBool});
    bool* m = mask.data_ptr<bool>();
    for (int64_t b = 0; b < B; ++b) {
      ATTO_CHECK(len[size_t(b)] >= 0 && len[size_t(b)] <= T, "[{}] lengths[{}] = {} is outside [0, {}] (input {})", op,
                 b, len[size_t(b)], T, input.shape());
      for (int64_t t = 0; t < T; ++t) m[t * B + b] = t < len[size_t(b)];
    }
    mask = mask.to(input.device());
  }

  std::vector<Tensor> h_n(size_t(L * D)), c_n(size_t(is_lstm ? L * D : 0));
  Tensor layer_input = x;   // [T, B, in_features]
  for (int64_t layer = 0; layer < L; ++layer) {
    std::vector<Tensor> direction_outputs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t idx = layer * D + d;
      const Tensor* p = &params[size_t(idx * per_dir)];
      const Tensor &w_ih = p[0], &w_hh = p[1];
      Tensor b_ih = opt.has_biases ? p[2] : Tensor(), b_hh = opt.has_biases ? p[3] : Tensor();

      // The input half of every gate, for all steps at once: [T * B, I] @ W_ih^T + b_ih -> [T, B, G * H].
      const int64_t in_features = layer_input.size(2);
      Tensor xw = linear(layer_input.reshape({T * B, in_features}), w_ih, b_ih).view({T, B, G * H});
      Tensor h = hx.select(0, idx), c = is_lstm ? cx.select(0, idx) : Tensor();
      if (is_lstm && !mask.defined()) {
        // The fast path: the whole time loop as one op (lstm_sequence), [T, B, 2H] = [h_t | c_t].
        Tensor hc = lstm_sequence(xw, h, c, w_hh, b_hh, /*reverse=*/d == 1);
        Tensor last = hc.select(0, d == 0 ? T - 1 : 0);
        direction_outputs.push_back(hc.narrow(2, 0, H));
        h_n[size_t(idx)] = last.narrow(1, 0, H);
        c_n[size_t(idx)] = last.narrow(1, H, H);
        continue;
      }
      std::vector<Tensor> xw_steps = unbind_steps(xw);   // xw_steps[t] is xw[t]: [B, G * H]
      std::vector<Tensor> outputs(static_cast<size_t>(T));
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;   // the reverse direction walks from the end
        const Tensor& xw_t = xw_steps[size_t(t)];
        Tensor h_new, c_new;
        switch (mode) {
          case RNNMode::RNN_TANH: h_new = rnn_step(xw_t, h, w_hh, b_hh, false); break;
          case RNNMode::RNN_RELU: h_new = rnn_step(xw_t, h, w_hh, b_hh, true); break;
          case RNNMode::LSTM: std::tie(h_new, c_new) = lstm_step(xw_t, h, c, w_hh, b_hh); break;
          case RNNMode::GRU: h_new = gru_step(xw_t, h, w_hh, b_hh); break;
        }
        if (mask.defined()) {
          // Past a sequence's end the state stays as it was and the output is zero. In the reverse
          // direction this keeps h0 until the sequence's last valid step, where it then starts.
          Tensor m = mask.select(0, t);   // [B, 1]
          h = where(m, h_new, h);
          if (is_lstm) c = where(m, c_new, c);
          outputs[size_t(t)] = where(m, h_new, 0.0);
        } else {
          h = h_new;
          c = c_new;
          outputs[size_t(t)] = h;
        }
      }
      direction_outputs.push_back(stack(outputs, 0));   // [T, B, H]
      h_n[size_t(idx)] = h;
      if (is_lstm) c_n[size_t(idx)] = c;
    }
    // Directions side by side: [T, B, D * H]; dropout between layers, not after the last.
    layer_input = D == 1 ? direction_outputs[0] : cat(direction_outputs, 2);
    if (layer + 1 < L && opt.training && opt.dropout > 0.0)
      layer_input = dropout(layer_input, opt.dropout, true, opt.generator);
  }

  RNNResult r;
  r.output = !batched ? layer_input.squeeze(1) : opt.batch_first ? layer_input.transpose(0, 1) : layer_input;
  r.h_n = stack(h_n, 0);
  if (!batched) r.h_n = r.h_n.squeeze(1);
  if (is_lstm) {
    r.c_n = stack(c_n, 0);
    if (!batched) r.c_n = r.c_n.squeeze(1);
  }
  return r;
}

RNNResult rnn_tanh(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
                   const RNNForwardOptions& options) {
  return rnn_forward(RNNMode::RNN_TANH, input, h0, {}, params, options, mode_name(RNNMode::RNN_TANH));
}
RNNResult rnn_relu(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
                   const RNNForwardOptions& options) {
  return rnn_forward(RNNMode::RNN_RELU, input, h0, {}, params, options, mode_name(RNNMode::RNN_RELU));
}
RNNResult lstm(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0, const std::vector<Tensor>& params,
               const RNNForwardOptions& options) {
  return rnn_forward(RNNMode::LSTM, input, h0c0.first, h0c0.second, params, options, mode_name(RNNMode::LSTM));
}
RNNResult gru(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
              const RNNForwardOptions& options) {
  return rnn_forward(RNNMode::GRU, input, h0, {}, params, options, mode_name(RNNMode::GRU));
}

// ---- modules ------------------------------------------------------------------------------------------------
namespace nn {

namespace {

RNNMode rnn_mode_of(const RNNOptions& o) {
  ATTO_CHECK(o.nonlinearity == "tanh" || o.nonlinearity == "relu",
             "[RNN] nonlinearity must be 'tanh' or 'relu', got '{}'", o.nonlinearity);
  return o.nonlinearity == "relu" ? RNNMode::RNN_RELU : RNNMode::RNN_TANH;
}

// PyTorch's reset_parameters: every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
void init_uniform(const std::vector<Tensor>& params, int64_t hidden_size) {
  const double bound = 1.0 / std::sqrt(double(hidden_size));
  for (const Tensor& p : params)
    if (p.defined()) init::uniform_(p, -bound, bound);
}

}  // namespace

RNNBase::RNNBase(const char* type_name, RNNMode mode_in, RNNOptions options_in)
    : Module(type_name), options(std::move(options_in)), mode(mode_in) {
  const RNNOptions& o = options;
  ATTO_CHECK(o.input_size > 0 && o.hidden_size > 0, "[{}] input_size and hidden_size must be positive, got {} and {}",
             type_name, o.input_size, o.hidden_size);
  ATTO_CHECK(o.num_layers >= 1, "[{}] num_layers must be at least 1, got {}", type_name, o.num_layers);
  ATTO_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, "[{}] dropout must be in [0, 1], got {}", type_name, o.dropout);
  const int64_t G = mode == RNNMode::LSTM ? 4 : mode == RNNMode::GRU ? 3 : 1, H = o.hidden_size;
  const int64_t D = o.bidirectional ? 2 : 1;
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    for (int64_t d = 0; d < D; ++d) {
      std::string sfx = fmt::format("_l{}{}", layer, d ? "_reverse" : "");
      int64_t in = layer == 0 ? o.input_size : D * H;
      flat_weights.push_back(register_parameter("weight_ih" + sfx, empty({G * H, in})));
      flat_weights.push_back(register_parameter("weight_hh" + sfx, empty({G * H, H})));
      if (o.bias) {
        flat_weights.push_back(register_parameter("bias_ih" + sfx, empty({G * H})));
        flat_weights.push_back(register_parameter("bias_hh" + sfx, empty({G * H})));
      }
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() { init_uniform(flat_weights, options.hidden_size); }

// PyTorch's format: "10, 20, num_layers=2, batch_first=True, bidirectional=True".
std::string RNNBase::extra_repr() const {
  const RNNOptions& o = options;
  std::string s = fmt::format("{}, {}", o.input_size, o.hidden_size);
  if (o.num_layers != 1) s += fmt::format(", num_layers={}", o.num_layers);
  if (!o.bias) s += ", bias=False";
  if (o.batch_first) s += ", batch_first=True";
  if (o.dropout != 0.0) s += fmt::format(", dropout={}", o.dropout);
  if (o.bidirectional) s += ", bidirectional=True";
  return s;
}

RNNResult RNNBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0, const SeqLengths& lengths) {
  const RNNOptions& o = options;
  RNNForwardOptions f{.num_layers = o.num_layers,
                      .has_biases = o.bias,
                      .batch_first = o.batch_first,
                      .bidirectional = o.bidirectional,
                      .dropout = o.dropout,
                      .training = is_training(),
                      .lengths = lengths};
  return rnn_forward(mode, input, h0, c0, flat_weights, f, type_name().c_str());
}

RNN::RNN(RNNOptions options) : RNNBase("RNN", rnn_mode_of(options), options) {}
RNNOutput RNN::forward(const Tensor& input, const Tensor& h0, const SeqLengths& lengths) {
  RNNResult r = run(input, h0, {}, lengths);
  return {r.output, r.h_n};
}
RNNOutput RNN::operator()(const Tensor& input, const Tensor& h0, const SeqLengths& lengths) {
  auto [output, h_n] = forward(input, h0, lengths);
  return {run_hooks(output), h_n};
}

LSTM::LSTM(RNNOptions options) : RNNBase("LSTM", RNNMode::LSTM, std::move(options)) {}
LSTMOutput LSTM::forward(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0, const SeqLengths& lengths) {
  RNNResult r = run(input, h0c0.first, h0c0.second, lengths);
  return {r.output, {r.h_n, r.c_n}};
}
LSTMOutput LSTM::operator()(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0, const SeqLengths& lengths) {
  auto [output, state] = forward(input, h0c0, lengths);
  return {run_hooks(output), state};
}

GRU::GRU(RNNOptions options) : RNNBase("GRU", RNNMode::GRU, std::move(options)) {}
RNNOutput GRU::forward(const Tensor& input, const Tensor& h0, const SeqLengths& lengths) {
  RNNResult r = run(input, h0, {}, lengths);
  return {r.output, r.h_n};
}
RNNOutput GRU::operator()(const Tensor& input, const Tensor& h0, const SeqLengths& lengths) {
  auto [output, h_n] = forward(input, h0, lengths);
  return {run_hooks(output), h_n};
}

// ---- cells

RNNCellBase::RNNCellBase(const char* type_name, RNNMode mode_in, RNNCellOptions options_in)
    : Module(type_name), options(std::move(options_in)), mode(mode_in) {
  const RNNCellOptions& o = options;
  ATTO_CHECK(o.input_size > 0 && o.hidden_size > 0, "[{}] input_size and hidden_size must be positive, got {} and {}",
             type_name, o.input_size, o.hidden_size);
  const int64_t G = mode == RNNMode::LSTM ? 4 : mode == RNNMode::GRU ? 3 : 1, H = o.hidden_size;
  weight_ih = register_parameter("weight_ih", empty({G * H, o.input_size}));
  weight_hh = register_parameter("weight_hh", empty({G * H, H}));
  if (o.bias) {
    bias_ih = register_parameter("bias_ih", empty({G * H}));
    bias_hh = register_parameter("bias_hh", empty({G * H}));
  }
  reset_parameters();
}

void RNNCellBase::reset_parameters() { init_uniform({weight_ih, weight_hh, bias_ih, bias_hh}, options.hidden_size); }

// PyTorch's format: "10, 20" then ", bias=False" and ", nonlinearity=relu" when not the defaults.
std::string RNNCellBase::extra_repr() const {
  std::string s = fmt::format("{}, {}", options.input_size, options.hidden_size);
  if (!options.bias) s += ", bias=False";
  if (mode == RNNMode::RNN_RELU) s += ", nonlinearity=relu";
  return s;
}

Tensor RNNCellBase::check_input(const Tensor& input) const {
  ATTO_CHECK(input.defined() && (input.ndim() == 1 || input.ndim() == 2) &&
                 input.shape().back() == options.input_size,
             "[{}] expected input [batch, {}] or [{}] (input_size {}), got {}", type_name(), options.input_size,
             options.input_size, options.input_size, input.defined() ? input.shape() : Shape{});
  Shape state = input.ndim() == 2 ? Shape{input.size(0), options.hidden_size} : Shape{options.hidden_size};
  return zeros(state, {.dtype = input.dtype(), .device = input.device()});
}

RNNCell::RNNCell(RNNCellOptions options)
    : RNNCellBase("RNNCell",
                  [&] {
                    ATTO_CHECK(options.nonlinearity == "tanh" || options.nonlinearity == "relu",
                               "[RNNCell] nonlinearity must be 'tanh' or 'relu', got '{}'", options.nonlinearity);
                    return options.nonlinearity == "relu" ? RNNMode::RNN_RELU : RNNMode::RNN_TANH;
                  }(),
                  options) {}
Tensor RNNCell::forward(const Tensor& input, const Tensor& h) {
  Tensor zero = check_input(input);
  const Tensor& hx = h.defined() ? h : zero;
  return mode == RNNMode::RNN_RELU ? rnn_relu_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
                                    : rnn_tanh_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh);
}

LSTMCell::LSTMCell(RNNCellOptions options) : RNNCellBase("LSTMCell", RNNMode::LSTM, std::move(options)) {}
std::pair<Tensor, Tensor> LSTMCell::forward(const Tensor& input, const std::pair<Tensor, Tensor>& hc) {
  Tensor zero = check_input(input);
  return lstm_cell(input, {hc.first.defined() ? hc.first : zero, hc.second.defined() ? hc.second : zero}, weight_ih,
                   weight_hh, bias_ih, bias_hh);
}
std::pair<Tensor, Tensor> LSTMCell::operator()(const Tensor& input, const std::pair<Tensor, Tensor>& hc) {
  auto [h, c] = forward(input, hc);
  return {run_hooks(h), c};
}

GRUCell::GRUCell(RNNCellOptions options) : RNNCellBase("GRUCell", RNNMode::GRU, std::move(options)) {}
Tensor GRUCell::forward(const Tensor& input, const Tensor& h) {
  Tensor zero = check_input(input);
  return gru_cell(input, h.defined() ? h : zero, weight_ih, weight_hh, bias_ih, bias_hh);
}

}  // namespace nn

}  // namespace atto
