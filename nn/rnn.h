// nn/rnn.h -- recurrent layers as PyTorch 1.13 has them: the cells (lstm_cell, gru_cell,
// rnn_tanh_cell, rnn_relu_cell) and the multi-layer, bidirectional, batch_first time loop over them
// (lstm, gru, rnn_tanh, rnn_relu), as functions of explicit weight tensors; then the modules that
// hold those weights under PyTorch's names (nn::RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell).
// Implemented in nn/rnn.cpp; docs/lstm.md walks through the equations and shapes.
//
// Gate equations (PyTorch's, with its gate order; W_i* are rows of w_ih, W_h* rows of w_hh):
//   RNN    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)           (or relu)
//   LSTM   i, f, g, o = chunk(W_ih x + b_ih + W_hh h + b_hh, 4)     w_ih is [4H, I], w_hh [4H, H]
//          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
//          h' = sigmoid(o) * tanh(c')
//   GRU    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)                w_ih is [3H, I], w_hh [3H, H]
//          z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//          h' = (1 - z) * n + z * h
//
// Shapes (T steps, B batch, I input features, H hidden, D = 2 if bidirectional else 1, L layers):
//   cells   x [B, I] or [I] (unbatched), h and c [B, H] or [H]
//   layers  input [T, B, I] ([B, T, I] with batch_first; [T, I] unbatched)
//           h0, c0, h_n, c_n [D * L, B, H] ([D * L, H] unbatched); output [T, B, D * H]
// Biases are optional everywhere (pass undefined tensors, or has_biases = false).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace atto {

// ---- cells: one time step -----------------------------------------------------------------------
Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = {},
                     const Tensor& b_hh = {});
Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = {},
                     const Tensor& b_hh = {});
// (h, c) -> (h', c'):  auto [h1, c1] = lstm_cell(x, {h, c}, w_ih, w_hh, b_ih, b_hh);
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const std::pair<Tensor, Tensor>& hc, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b_ih = {}, const Tensor& b_hh = {});
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = {},
                const Tensor& b_hh = {});

namespace detail {
// lstm_cell written with chunk/sigmoid/tanh/mul/add only: the reference the fused fast path
// (lstm_pointwise, autograd/functions/rnn_cells.h) is tested against.
std::pair<Tensor, Tensor> lstm_cell_composite(const Tensor& x, const std::pair<Tensor, Tensor>& hc, const Tensor& w_ih,
                                              const Tensor& w_hh, const Tensor& b_ih = {}, const Tensor& b_hh = {});
}  // namespace detail

// ---- variable-length batches ---------------------------------------------------------------------
// The valid length of each sequence of a padded batch, in batch order (any order: no sorting
// needed), each in [0, T]. Empty (the default) means every sequence has all T steps. Built from an
// int64 tensor or a list: lstm(x, ..., {.lengths = {5, 3, 4}}), or SeqLengths(lengths_tensor).
// With lengths, the layers give what PyTorch gives for pack_padded_sequence(enforce_sorted=False)
// followed by pad_packed_sequence(total_length=T): padded steps leave the state unchanged and get
// no gradient, padded outputs are zero, h_n/c_n are each sequence's state after its last valid
// step, and the reverse direction starts at each sequence's own last valid step.
class SeqLengths {
 public:
  SeqLengths() = default;
  SeqLengths(std::vector<int64_t> lengths) : lengths_(std::move(lengths)), given_(true) {}
  SeqLengths(std::initializer_list<int64_t> lengths) : lengths_(lengths), given_(true) {}
  SeqLengths(const Tensor& lengths);   // 1-d int64; an undefined tensor means none
  bool given() const { return given_; }
  const std::vector<int64_t>& values() const { return lengths_; }

 private:
  std::vector<int64_t> lengths_;
  bool given_ = false;
};

// ---- layers: the time loop ------------------------------------------------------------------------
enum class RNNMode { RNN_TANH, RNN_RELU, LSTM, GRU };

struct RNNForwardOptions {
  int64_t num_layers = 1;
  bool has_biases = true;
  bool batch_first = false;
  bool bidirectional = false;
  double dropout = 0.0;   // on the outputs of every layer but the last, when training
  bool training = false;
  SeqLengths lengths = {};
  Generator* generator = nullptr;   // for dropout; null is default_generator()
};

struct RNNResult {
  Tensor output;   // [T, B, D * H] (batch_first: [B, T, D * H])
  Tensor h_n;      // [D * L, B, H]
  Tensor c_n;      // LSTM only: [D * L, B, H]
};

// `params` holds, for each layer and then each direction (forward, reverse), w_ih, w_hh and (if
// has_biases) b_ih, b_hh: PyTorch's _flat_weights order (weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0, weight_ih_l0_reverse, ...). h0 and c0 may be undefined: zeros.
RNNResult rnn_tanh(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
                   const RNNForwardOptions& options = {});
RNNResult rnn_relu(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
                   const RNNForwardOptions& options = {});
RNNResult lstm(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0, const std::vector<Tensor>& params,
               const RNNForwardOptions& options = {});
RNNResult gru(const Tensor& input, const Tensor& h0, const std::vector<Tensor>& params,
              const RNNForwardOptions& options = {});

// All four in one: `op` names the caller in error messages ("lstm", "LSTM", ...). c0 is used by
// RNNMode::LSTM only.
RNNResult rnn_forward(RNNMode mode, const Tensor& input, const Tensor& h0, const Tensor& c0,
                      const std::vector<Tensor>& params, const RNNForwardOptions& options, const char* op);

// ---- modules (torch.nn.RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell) ---------------------------------
namespace nn {

// torch.nn.RNN / LSTM / GRU options, PyTorch's names and defaults:
//   nn::LSTM lstm({.input_size = 10, .hidden_size = 20, .num_layers = 2, .batch_first = true});
struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  std::string nonlinearity = "tanh";   // "tanh" or "relu"; nn::RNN only
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;   // on every layer's output but the last, in training mode
  bool bidirectional = false;
};
using LSTMOptions = RNNOptions;
using GRUOptions = RNNOptions;

struct RNNCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;
  std::string nonlinearity = "tanh";   // "tanh" or "relu"; nn::RNNCell only
};
using LSTMCellOptions = RNNCellOptions;
using GRUCellOptions = RNNCellOptions;

// What RNN and GRU return: {output, h_n}; LSTM returns {output, {h_n, c_n}}.
//   auto [out, h_n] = gru(x);          auto [out, state] = lstm(x);  auto [h_n, c_n] = state;
using RNNOutput = std::pair<Tensor, Tensor>;
using LSTMOutput = std::pair<Tensor, std::pair<Tensor, Tensor>>;

// The shared body of RNN, LSTM and GRU: parameters weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse],
// bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] registered in PyTorch's order, all initialised
// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
class RNNBase : public Module {
 public:
  RNNBase(const char* type_name, RNNMode mode, RNNOptions options);
  void reset_parameters();   // every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
  std::string extra_repr() const override;
  RNNOptions options;   // fixed at construction: the parameters' shapes follow from it
  RNNMode mode;
  // The parameters in PyTorch's _flat_weights order (the same handles as named_parameters()).
  std::vector<Tensor> flat_weights;

 protected:
  RNNResult run(const Tensor& input, const Tensor& h0, const Tensor& c0, const SeqLengths& lengths);
};

// Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).
class RNN : public RNNBase {
 public:
  explicit RNN(RNNOptions options);
  RNN(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : RNN(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  // input [T, B, I] ([B, T, I] with batch_first, [T, I] unbatched); h0 [D * L, B, H] or undefined
  // (zeros); lengths: see SeqLengths. Returns {output [T, B, D * H], h_n [D * L, B, H]}.
  RNNOutput forward(const Tensor& input, const Tensor& h0 = {}, const SeqLengths& lengths = {});
  RNNOutput operator()(const Tensor& input, const Tensor& h0 = {}, const SeqLengths& lengths = {});
};

class LSTM : public RNNBase {
 public:
  explicit LSTM(RNNOptions options);
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : LSTM(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  // h0c0: {h0, c0}, each [D * L, B, H] or undefined (zeros). Returns {output, {h_n, c_n}}.
  LSTMOutput forward(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0 = {}, const SeqLengths& lengths = {});
  LSTMOutput operator()(const Tensor& input, const std::pair<Tensor, Tensor>& h0c0 = {},
                        const SeqLengths& lengths = {});
};

class GRU : public RNNBase {
 public:
  explicit GRU(RNNOptions options);
  GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : GRU(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  RNNOutput forward(const Tensor& input, const Tensor& h0 = {}, const SeqLengths& lengths = {});
  RNNOutput operator()(const Tensor& input, const Tensor& h0 = {}, const SeqLengths& lengths = {});
};

// The cells: one step. Parameters weight_ih, weight_hh, bias_ih, bias_hh, U(-1/sqrt(H), 1/sqrt(H)).
class RNNCellBase : public Module {
 public:
  RNNCellBase(const char* type_name, RNNMode mode, RNNCellOptions options);
  void reset_parameters();   // every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
  std::string extra_repr() const override;
  RNNCellOptions options;
  RNNMode mode;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;   // bias_* undefined when !bias

 protected:
  // Checks input [B, I] or [I] against input_size; returns a zero state of the matching shape.
  Tensor check_input(const Tensor& input) const;
};

class RNNCell : public RNNCellBase {
 public:
  explicit RNNCell(RNNCellOptions options);
  RNNCell(int64_t input_size, int64_t hidden_size)
      : RNNCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}
  // h: [B, H] ([H] unbatched) or undefined (zeros). Returns h'.
  Tensor forward(const Tensor& input, const Tensor& h = {});
  Tensor operator()(const Tensor& input, const Tensor& h = {}) { return run_hooks(forward(input, h)); }
};

class LSTMCell : public RNNCellBase {
 public:
  explicit LSTMCell(RNNCellOptions options);
  LSTMCell(int64_t input_size, int64_t hidden_size)
      : LSTMCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}
  // hc: {h, c} or undefined tensors (zeros). Returns {h', c'}; hooks see h'.
  std::pair<Tensor, Tensor> forward(const Tensor& input, const std::pair<Tensor, Tensor>& hc = {});
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const std::pair<Tensor, Tensor>& hc = {});
};

class GRUCell : public RNNCellBase {
 public:
  explicit GRUCell(RNNCellOptions options);
  GRUCell(int64_t input_size, int64_t hidden_size)
      : GRUCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}
  Tensor forward(const Tensor& input, const Tensor& h = {});
  Tensor operator()(const Tensor& input, const Tensor& h = {}) { return run_hooks(forward(input, h)); }
};

}  // namespace nn

}  // namespace atto
