// tests/nn/test_rnn.cpp -- the recurrent cells and layers of nn/rnn.h against PyTorch
// (tools/gen_ref_rnn.py): outputs, final states and the gradients of the input, the initial state
// and every parameter, in float32 and float64; variable lengths against packed sequences; float64
// gradcheck on tiny sizes; non-contiguous operands; errors.
#include "autograd/functions/rnn_cells.h"
#include "reference/rnn.h"
#include "test_util.h"

using namespace atto;
using atto::testing::uniform;

namespace {

int64_t gates_of(RNNMode mode) { return mode == RNNMode::LSTM ? 4 : mode == RNNMode::GRU ? 3 : 1; }

// Parameter shapes in PyTorch's _flat_weights order.
std::vector<Shape> param_shapes(RNNMode mode, int64_t I, int64_t H, int64_t L, bool bi, bool bias) {
  const int64_t G = gates_of(mode), D = bi ? 2 : 1;
  std::vector<Shape> shapes;
  for (int64_t layer = 0; layer < L; ++layer) {
    for (int64_t d = 0; d < D; ++d) {
      shapes.push_back({G * H, layer == 0 ? I : D * H});
      shapes.push_back({G * H, H});
      if (bias) {
        shapes.push_back({G * H});
        shapes.push_back({G * H});
      }
    }
  }
  return shapes;
}

// Splits a flat, concatenated reference (params or their gradients) into tensors of `shapes`.
std::vector<Tensor> unflatten(const RefTensor& flat, const std::vector<Shape>& shapes, DType dtype) {
  Tensor all = flat.tensor(dtype);
  std::vector<Tensor> out;
  int64_t off = 0;
  for (const Shape& s : shapes) {
    out.push_back(all.narrow(0, off, s.numel()).reshape(s).clone());
    off += s.numel();
  }
  REQUIRE(off == all.numel());
  return out;
}

Tensor flat_grads(const std::vector<Tensor>& params) {
  std::vector<Tensor> g;
  for (const Tensor& p : params) {
    REQUIRE(p.grad().defined());
    g.push_back(p.grad().reshape({-1}));
  }
  return cat(g, 0);
}

bool has(const RefTensor& r) { return !r.values.empty(); }

struct Expect {
  const RefTensor &out, &h_n, &c_n, &gx, &gh0, &gc0, &gparams;
};

struct LayerCase {
  const char* name;
  RNNMode mode;
  int64_t I, H, L;
  bool bi, batch_first, bias;
  const RefTensor &x, &h0, &c0, &params, &lengths, &w_out, &w_h, &w_c;
  Expect f32, f64;
};

#define ATTO_LAYER_CASE(n, mode, I, H, L, bi, bf, bias)                                                         \
  LayerCase {                                                                                                   \
    #n, mode, I, H, L, bi, bf, bias, ref::rnn::n##_x, ref::rnn::n##_h0, ref::rnn::n##_c0, ref::rnn::n##_params, \
        ref::rnn::n##_lengths, ref::rnn::n##_w_out, ref::rnn::n##_w_h, ref::rnn::n##_w_c,                       \
        Expect{ref::rnn::n##_out,   ref::rnn::n##_h_n, ref::rnn::n##_c_n,   ref::rnn::n##_gx,                   \
               ref::rnn::n##_gh0,   ref::rnn::n##_gc0, ref::rnn::n##_gparams},                                  \
        Expect {                                                                                                \
      ref::rnn::n##_out_64, ref::rnn::n##_h_n_64, ref::rnn::n##_c_n_64, ref::rnn::n##_gx_64,                    \
          ref::rnn::n##_gh0_64, ref::rnn::n##_gc0_64, ref::rnn::n##_gparams_64                                  \
    }                                                                                                           \
  }

const std::vector<LayerCase>& layer_cases() {
  static const std::vector<LayerCase> cases = {
      ATTO_LAYER_CASE(lstm_2l_bi_bf, RNNMode::LSTM, 4, 3, 2, true, true, true),
      ATTO_LAYER_CASE(lstm_1l, RNNMode::LSTM, 4, 5, 1, false, false, true),
      ATTO_LAYER_CASE(gru_2l_bi, RNNMode::GRU, 3, 4, 2, true, false, true),
      ATTO_LAYER_CASE(rnn_relu_2l, RNNMode::RNN_RELU, 4, 5, 2, false, false, true),
      ATTO_LAYER_CASE(rnn_tanh_bi_nobias, RNNMode::RNN_TANH, 3, 4, 1, true, false, false),
      ATTO_LAYER_CASE(lstm_unbatched, RNNMode::LSTM, 3, 4, 2, false, false, true),
      ATTO_LAYER_CASE(lstm_len, RNNMode::LSTM, 3, 4, 2, true, false, true),
      ATTO_LAYER_CASE(gru_len_bf, RNNMode::GRU, 3, 4, 1, true, true, true),
      ATTO_LAYER_CASE(rnn_len, RNNMode::RNN_TANH, 3, 4, 2, false, false, true),
  };
  return cases;
}

RNNForwardOptions options_of(const LayerCase& c) {
  RNNForwardOptions o;
  o.num_layers = c.L;
  o.has_biases = c.bias;
  o.batch_first = c.batch_first;
  o.bidirectional = c.bi;
  if (has(c.lengths)) o.lengths = SeqLengths(c.lengths.tensor(kInt64));
  return o;
}

// Runs a case's forward and the backward of its weighted sum; checks everything against `e`.
void check_layer_case(const LayerCase& c, DType dtype, const Expect& e, double rtol, double atol,
                      const Tensor& x_in = {}) {
  const bool is_lstm = c.mode == RNNMode::LSTM;
  Tensor x = x_in.defined() ? x_in : c.x.tensor(dtype);
  x.requires_grad_();
  Tensor h0 = has(c.h0) ? c.h0.tensor(dtype).requires_grad_() : Tensor();
  Tensor c0 = has(c.c0) ? c.c0.tensor(dtype).requires_grad_() : Tensor();
  std::vector<Tensor> params = unflatten(c.params, param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias), dtype);
  for (Tensor& p : params) p.requires_grad_();
  RNNResult r = rnn_forward(c.mode, x, h0, c0, params, options_of(c), "test");
  CHECK(r.output.shape() == Shape(e.out.shape));
  CHECK(r.h_n.shape() == Shape(e.h_n.shape));
  CHECK(r.output.dtype() == dtype);
  CHECK_ALLCLOSE(r.output, e.out.values, rtol, atol);
  CHECK_ALLCLOSE(r.h_n, e.h_n.values, rtol, atol);
  CHECK(r.c_n.defined() == is_lstm);
  if (is_lstm) {
    CHECK(r.c_n.shape() == Shape(e.c_n.shape));
    CHECK_ALLCLOSE(r.c_n, e.c_n.values, rtol, atol);
  }
  Tensor loss = (r.output * c.w_out.tensor(dtype)).sum() + (r.h_n * c.w_h.tensor(dtype)).sum();
  if (is_lstm) loss = loss + (r.c_n * c.w_c.tensor(dtype)).sum();
  loss.backward();
  CHECK(x.grad().shape() == x.shape());
  CHECK_ALLCLOSE(x.grad(), e.gx.values, rtol, atol);
  if (h0.defined()) CHECK_ALLCLOSE(h0.grad(), e.gh0.values, rtol, atol);
  if (c0.defined()) CHECK_ALLCLOSE(c0.grad(), e.gc0.values, rtol, atol);
  CHECK_ALLCLOSE(flat_grads(params), e.gparams.values, rtol, atol);
}

}  // namespace

TEST_CASE("rnn layers match PyTorch in float32: outputs and states and every gradient") {
  for (const LayerCase& c : layer_cases()) {
    CAPTURE(c.name);
    check_layer_case(c, kFloat32, c.f32, 1e-5, 1e-6);
  }
}

TEST_CASE("rnn layers match PyTorch in float64") {
  for (const LayerCase& c : layer_cases()) {
    CAPTURE(c.name);
    check_layer_case(c, kFloat64, c.f64, 1e-10, 1e-12);
  }
}

TEST_CASE("rnn layers read a non-contiguous input in place of a contiguous one") {
  for (const LayerCase& c : layer_cases()) {
    CAPTURE(c.name);
    // The same values, laid out with the last two dims swapped in memory.
    Tensor x = c.x.tensor(kFloat64);
    Tensor strided = x.transpose(-1, -2).contiguous().transpose(-1, -2);
    REQUIRE(!strided.is_contiguous());
    check_layer_case(c, kFloat64, c.f64, 1e-10, 1e-12, strided.detach());
  }
}

// ---- cells ---------------------------------------------------------------------------------------------

namespace {

struct CellExpect {
  const RefTensor &h1, &c1, &gx, &gh, &gc, &gparams;
};

struct CellCase {
  const char* name;
  RNNMode mode;
  int64_t I, H;
  bool bias;
  const RefTensor &x, &h, &c, &params, &w_h, &w_c;
  CellExpect f32, f64;
};

#define ATTO_CELL_CASE(n, mode, I, H, bias)                                                                      \
  CellCase {                                                                                                     \
    #n, mode, I, H, bias, ref::rnn::n##_x, ref::rnn::n##_h0, ref::rnn::n##_c0, ref::rnn::n##_params,             \
        ref::rnn::n##_w_h, ref::rnn::n##_w_c,                                                                    \
        CellExpect{ref::rnn::n##_h_n, ref::rnn::n##_c_n, ref::rnn::n##_gx,                                       \
                   ref::rnn::n##_gh0, ref::rnn::n##_gc0, ref::rnn::n##_gparams},                                 \
        CellExpect {                                                                                             \
      ref::rnn::n##_h_n_64, ref::rnn::n##_c_n_64, ref::rnn::n##_gx_64, ref::rnn::n##_gh0_64, ref::rnn::n##_gc0_64, \
          ref::rnn::n##_gparams_64                                                                               \
    }                                                                                                            \
  }

const std::vector<CellCase>& cell_cases() {
  static const std::vector<CellCase> cases = {
      ATTO_CELL_CASE(lstm_cell, RNNMode::LSTM, 4, 5, true),
      ATTO_CELL_CASE(gru_cell, RNNMode::GRU, 4, 5, true),
      ATTO_CELL_CASE(rnn_tanh_cell, RNNMode::RNN_TANH, 4, 5, true),
      ATTO_CELL_CASE(rnn_relu_cell, RNNMode::RNN_RELU, 4, 5, true),
      ATTO_CELL_CASE(lstm_cell_nobias_unbatched, RNNMode::LSTM, 3, 4, false),
      ATTO_CELL_CASE(gru_cell_unbatched, RNNMode::GRU, 3, 4, true),
  };
  return cases;
}

// One step of the cell of `mode`; returns {h', c'} (c' undefined but for LSTM).
std::pair<Tensor, Tensor> run_cell(RNNMode mode, const Tensor& x, const Tensor& h, const Tensor& c,
                                   const std::vector<Tensor>& p) {
  Tensor b_ih = p.size() > 2 ? p[2] : Tensor(), b_hh = p.size() > 2 ? p[3] : Tensor();
  switch (mode) {
    case RNNMode::LSTM: return lstm_cell(x, {h, c}, p[0], p[1], b_ih, b_hh);
    case RNNMode::GRU: return {gru_cell(x, h, p[0], p[1], b_ih, b_hh), Tensor()};
    case RNNMode::RNN_TANH: return {rnn_tanh_cell(x, h, p[0], p[1], b_ih, b_hh), Tensor()};
    case RNNMode::RNN_RELU: return {rnn_relu_cell(x, h, p[0], p[1], b_ih, b_hh), Tensor()};
  }
  return {};
}

void check_cell_case(const CellCase& c, DType dtype, const CellExpect& e, double rtol, double atol) {
  const bool is_lstm = c.mode == RNNMode::LSTM;
  Tensor x = c.x.tensor(dtype).requires_grad_(), h = c.h.tensor(dtype).requires_grad_();
  Tensor cs = is_lstm ? c.c.tensor(dtype).requires_grad_() : Tensor();
  std::vector<Tensor> params = unflatten(c.params, param_shapes(c.mode, c.I, c.H, 1, false, c.bias), dtype);
  for (Tensor& p : params) p.requires_grad_();
  auto [h1, c1] = run_cell(c.mode, x, h, cs, params);
  CHECK(h1.shape() == Shape(e.h1.shape));
  CHECK_ALLCLOSE(h1, e.h1.values, rtol, atol);
  Tensor loss = (h1 * c.w_h.tensor(dtype)).sum();
  if (is_lstm) {
    CHECK(c1.shape() == Shape(e.c1.shape));
    CHECK_ALLCLOSE(c1, e.c1.values, rtol, atol);
    loss = loss + (c1 * c.w_c.tensor(dtype)).sum();
  }
  loss.backward();
  CHECK_ALLCLOSE(x.grad(), e.gx.values, rtol, atol);
  CHECK_ALLCLOSE(h.grad(), e.gh.values, rtol, atol);
  if (is_lstm) CHECK_ALLCLOSE(cs.grad(), e.gc.values, rtol, atol);
  CHECK_ALLCLOSE(flat_grads(params), e.gparams.values, rtol, atol);
}

}  // namespace

TEST_CASE("rnn cells match PyTorch in float32 and float64") {
  for (const CellCase& c : cell_cases()) {
    CAPTURE(c.name);
    check_cell_case(c, kFloat32, c.f32, 1e-5, 1e-6);
    check_cell_case(c, kFloat64, c.f64, 1e-10, 1e-12);
  }
}

TEST_CASE("rnn cells accept non-contiguous operands and broadcast nothing silently") {
  const CellCase& c = cell_cases()[0];   // lstm_cell
  std::vector<Tensor> p = unflatten(c.params, param_shapes(c.mode, c.I, c.H, 1, false, true), kFloat64);
  // Transposed-storage weights and a strided batch give the same step.
  std::vector<Tensor> pt;
  for (const Tensor& w : p) pt.push_back(w.ndim() == 2 ? w.t().contiguous().t() : w);
  Tensor x = c.x.tensor(), h = c.h.tensor(), cs = c.c.tensor();
  Tensor x2 = cat({x, x}, 1).narrow(1, 0, c.I);   // rows with a stride of 2 * I
  REQUIRE(!x2.is_contiguous());
  auto [h1, c1] = lstm_cell(x2, {h.t().contiguous().t(), cs}, pt[0], pt[1], pt[2], pt[3]);
  CHECK_ALLCLOSE(h1, c.f64.h1.values, 1e-10, 1e-12);
  CHECK_ALLCLOSE(c1, c.f64.c1.values, 1e-10, 1e-12);
  // A state with a batch of 1 is not broadcast over the input's batch: PyTorch rejects it too.
  CHECK_THROWS_WITH_AS(lstm_cell(x, {h.narrow(0, 0, 1), cs}, p[0], p[1], p[2], p[3]),
                       doctest::Contains("[lstm_cell]"), atto::Error);
}

// ---- gradcheck -------------------------------------------------------------------------------------------

TEST_CASE("rnn cells pass gradcheck in float64") {
  for (RNNMode mode : {RNNMode::LSTM, RNNMode::GRU, RNNMode::RNN_TANH, RNNMode::RNN_RELU}) {
    CAPTURE(int(mode));
    const bool is_lstm = mode == RNNMode::LSTM;
    std::vector<Tensor> in = {uniform({2, 3}, -1, 1, 1), uniform({2, 2}, -1, 1, 2)};
    if (is_lstm) in.push_back(uniform({2, 2}, -1, 1, 3));
    const size_t n_state = in.size();
    uint64_t seed = 10;
    for (const Shape& s : param_shapes(mode, 3, 2, 1, false, true)) in.push_back(uniform(s, -1, 1, seed++));
    CHECK_GRADCHECK(
        [mode, is_lstm, n_state](const std::vector<Tensor>& v) {
          auto [h1, c1] = run_cell(mode, v[0], v[1], is_lstm ? v[2] : Tensor(),
                                   std::vector<Tensor>(v.begin() + long(n_state), v.end()));
          return is_lstm ? cat({h1, c1}, 1) : h1;
        },
        in);
  }
}

TEST_CASE("rnn layers pass gradcheck in float64 with two bidirectional layers and lengths") {
  for (RNNMode mode : {RNNMode::LSTM, RNNMode::GRU, RNNMode::RNN_TANH, RNNMode::RNN_RELU}) {
    for (bool with_lengths : {false, true}) {
      CAPTURE(int(mode));
      CAPTURE(with_lengths);
      const bool is_lstm = mode == RNNMode::LSTM;
      const int64_t T = 3, B = 2, I = 2, H = 2, L = 2;
      std::vector<Tensor> in = {uniform({B, T, I}, -1, 1, 1), uniform({2 * L, B, H}, -1, 1, 2)};
      if (is_lstm) in.push_back(uniform({2 * L, B, H}, -1, 1, 3));
      const size_t n_state = in.size();
      uint64_t seed = 10;
      for (const Shape& s : param_shapes(mode, I, H, L, true, true)) in.push_back(uniform(s, -1, 1, seed++));
      RNNForwardOptions opt{.num_layers = L, .batch_first = true, .bidirectional = true};
      if (with_lengths) opt.lengths = {1, 3};
      CHECK_GRADCHECK(
          [mode, is_lstm, opt, n_state](const std::vector<Tensor>& v) {
            RNNResult r = rnn_forward(mode, v[0], v[1], is_lstm ? v[2] : Tensor(),
                                      std::vector<Tensor>(v.begin() + long(n_state), v.end()), opt, "test");
            std::vector<Tensor> parts = {r.output.reshape({-1}), r.h_n.reshape({-1})};
            if (is_lstm) parts.push_back(r.c_n.reshape({-1}));
            return cat(parts, 0);
          },
          in);
    }
  }
}

// ---- the fused LSTM step against the composite --------------------------------------------------------------

TEST_CASE("lstm_pointwise matches the composite lstm cell and passes gradcheck") {
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    const int64_t B = 3, I = 4, H = 5;
    std::vector<Tensor> fused_in = {uniform({B, I}, -2, 2, 1, dtype), uniform({B, H}, -1, 1, 2, dtype),
                                    uniform({B, H}, -2, 2, 3, dtype)};
    uint64_t seed = 10;
    for (const Shape& s : param_shapes(RNNMode::LSTM, I, H, 1, false, true))
      fused_in.push_back(uniform(s, -1, 1, seed++, dtype));
    std::vector<Tensor> comp_in;
    for (Tensor& t : fused_in) comp_in.push_back(t.detach().clone().requires_grad_());
    for (Tensor& t : fused_in) t.requires_grad_();
    auto [h1, c1] = lstm_cell(fused_in[0], {fused_in[1], fused_in[2]}, fused_in[3], fused_in[4], fused_in[5],
                              fused_in[6]);
    auto [h2, c2] = detail::lstm_cell_composite(comp_in[0], {comp_in[1], comp_in[2]}, comp_in[3], comp_in[4],
                                                comp_in[5], comp_in[6]);
    const double tol = dtype == kFloat32 ? 1e-6 : 1e-14;
    CHECK_ALLCLOSE(h1, h2, tol, tol);
    CHECK_ALLCLOSE(c1, c2, tol, tol);
    Tensor wh = uniform({B, H}, -1, 1, 20, dtype), wc = uniform({B, H}, -1, 1, 21, dtype);
    ((h1 * wh).sum() + (c1 * wc).sum()).backward();
    ((h2 * wh).sum() + (c2 * wc).sum()).backward();
    for (size_t i = 0; i < fused_in.size(); ++i) {
      CAPTURE(i);
      CHECK_ALLCLOSE(fused_in[i].grad(), comp_in[i].grad(), tol, tol);
    }
  }
  // The op alone, with strided operands.
  Tensor gates = uniform({16, 3}, -2, 2, 5).t(), c = uniform({3, 4}, -2, 2, 6);
  REQUIRE(!gates.is_contiguous());
  CHECK_GRADCHECK([](const std::vector<Tensor>& v) { return lstm_pointwise(v[0], v[1]); }, {gates, c});
  CHECK_THROWS_WITH_AS(lstm_pointwise(zeros({3, 8}), zeros({3, 3})),
                       doctest::Contains("[lstm_pointwise] expects gates [B, 4H] and c [B, H], "
                                         "got gates [3, 8] and c [3, 3]"),
                       atto::Error);
}

// ---- the fused LSTM layer (lstm_sequence) against the per-step loop -----------------------------------------

TEST_CASE("lstm_sequence matches the per-step loop in the outputs and every gradient") {
  const LayerCase& c = layer_cases()[0];   // lstm_2l_bi_bf: two bidirectional layers, batch_first
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    // Without lengths the layers take the fused path; lengths that cover every step take the
    // per-step loop (lstm_pointwise per step): the same function, computed two ways.
    auto run = [&](bool per_step) {
      std::vector<Tensor> params = unflatten(c.params, param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias), dtype);
      for (Tensor& p : params) p.requires_grad_();
      Tensor x = c.x.tensor().to(dtype).requires_grad_();
      Tensor h0 = c.h0.tensor().to(dtype).requires_grad_(), c0 = c.c0.tensor().to(dtype).requires_grad_();
      RNNForwardOptions opt = options_of(c);
      if (per_step) opt.lengths = std::vector<int64_t>(size_t(x.size(0)), x.size(1));
      RNNResult r = lstm(x, {h0, c0}, params, opt);
      Tensor wo = uniform(r.output.shape(), -1, 1, 7, dtype), wh = uniform(r.h_n.shape(), -1, 1, 8, dtype);
      ((r.output * wo).sum() + (r.h_n * wh).sum() + r.c_n.sum()).backward();
      std::vector<Tensor> out = {r.output, r.h_n, r.c_n, x.grad(), h0.grad(), c0.grad()};
      for (Tensor& p : params) out.push_back(p.grad());
      return out;
    };
    std::vector<Tensor> fused = run(false), per_step = run(true);
    for (size_t i = 0; i < 3; ++i) CHECK_ALLCLOSE(fused[i], per_step[i], 0.0, 0.0);   // forward: bitwise
    // The gradients sum the same terms in another order (dW_hh is one gemm over all steps).
    const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
    for (size_t i = 3; i < fused.size(); ++i) {
      CAPTURE(i);
      CHECK_ALLCLOSE(fused[i], per_step[i], tol, tol);
    }
  }
  CHECK_THROWS_WITH_AS(lstm_sequence(zeros({2, 3, 8}), zeros({3, 2}), zeros({3, 3}), zeros({8, 2}), {}),
                       doctest::Contains("[lstm_sequence] h0 and c0 must be [3, 2], got [3, 2] and [3, 3]"),
                       atto::Error);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& v) { return lstm_sequence(v[0], v[1], v[2], v[3], v[4], /*reverse=*/true); },
      {uniform({3, 2, 8}, -1, 1, 1), uniform({2, 2}, -1, 1, 2), uniform({2, 2}, -1, 1, 3), uniform({8, 2}, -1, 1, 4),
       uniform({8}, -1, 1, 5)});
}

// ---- behaviour ---------------------------------------------------------------------------------------------

TEST_CASE("rnn lengths equal to the full sequence change nothing and padded steps get no gradient") {
  const LayerCase& c = layer_cases()[0];   // lstm_2l_bi_bf: [B=3, T=5, I=4]
  std::vector<Tensor> params = unflatten(c.params, param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias), kFloat64);
  RNNForwardOptions opt = options_of(c);
  Tensor x = c.x.tensor().requires_grad_();
  RNNResult full = lstm(x, {c.h0.tensor(), c.c0.tensor()}, params, opt);
  opt.lengths = {5, 5, 5};
  RNNResult same = lstm(x, {c.h0.tensor(), c.c0.tensor()}, params, opt);
  CHECK_ALLCLOSE(same.output, full.output, 0.0, 0.0);
  CHECK_ALLCLOSE(same.h_n, full.h_n, 0.0, 0.0);
  CHECK_ALLCLOSE(same.c_n, full.c_n, 0.0, 0.0);

  opt.lengths = SeqLengths(from_vector<int64_t>({2, 5, 0}));
  RNNResult r = lstm(x, {c.h0.tensor(), c.c0.tensor()}, params, opt);
  (r.output.sum() + r.h_n.sum() + r.c_n.sum()).backward();
  Tensor g = x.grad();
  CHECK(g.narrow(0, 0, 1).narrow(1, 2, 3).abs().sum().item<double>() == 0.0);   // sequence 0 past step 2
  CHECK(g.narrow(0, 2, 1).abs().sum().item<double>() == 0.0);                    // sequence 2: empty
  CHECK(g.narrow(0, 0, 1).narrow(1, 0, 2).abs().sum().item<double>() > 0.0);
  CHECK(r.output.narrow(0, 0, 1).narrow(1, 2, 3).abs().sum().item<double>() == 0.0);
  // An empty sequence keeps its initial state.
  CHECK_ALLCLOSE(r.h_n.select(1, 2), c.h0.tensor().select(1, 2), 0.0, 0.0);
  CHECK_ALLCLOSE(r.c_n.select(1, 2), c.c0.tensor().select(1, 2), 0.0, 0.0);
}

TEST_CASE("rnn dropout acts between layers only and only in training") {
  const LayerCase& c = layer_cases()[2];   // gru_2l_bi: [T=5, B=3, I=3], H=4
  std::vector<Tensor> params = unflatten(c.params, param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias), kFloat64);
  Tensor x = c.x.tensor(), h0 = c.h0.tensor();
  RNNForwardOptions opt = options_of(c);
  RNNResult plain = gru(x, h0, params, opt);
  opt.dropout = 1.0;   // zeroes the whole input of layer 1 when training
  RNNResult eval = gru(x, h0, params, opt);
  CHECK_ALLCLOSE(eval.output, plain.output, 0.0, 0.0);
  opt.training = true;
  RNNResult dropped = gru(x, h0, params, opt);
  // Layer 1 alone on a zero input gives the same output and layer-1 states.
  RNNForwardOptions one{.bidirectional = true};
  RNNResult layer1 = gru(zeros({5, 3, 8}, {.dtype = kFloat64}), h0.narrow(0, 2, 2),
                         std::vector<Tensor>(params.begin() + 8, params.end()), one);
  CHECK_ALLCLOSE(dropped.output, layer1.output, 0.0, 0.0);
  CHECK_ALLCLOSE(dropped.h_n.narrow(0, 0, 2), plain.h_n.narrow(0, 0, 2), 0.0, 0.0);   // layer 0: no dropout after it
  CHECK_ALLCLOSE(dropped.h_n.narrow(0, 2, 2), layer1.h_n, 0.0, 0.0);
  // A single layer has nothing to drop.
  RNNForwardOptions single{.dropout = 1.0, .training = true};
  std::vector<Tensor> p0(params.begin(), params.begin() + 4);
  CHECK_ALLCLOSE(gru(x, h0.narrow(0, 0, 1), p0, single).output, gru(x, h0.narrow(0, 0, 1), p0).output, 0.0, 0.0);
}

// ---- errors ------------------------------------------------------------------------------------------------

TEST_CASE("rnn errors name the op and show the shapes") {
  const LayerCase& c = layer_cases()[1];   // lstm_1l: [T=6, B=2, I=4], H=5
  std::vector<Tensor> p = unflatten(c.params, param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias), kFloat32);
  Tensor x = c.x.tensor(kFloat32);
  CHECK_THROWS_WITH_AS(lstm(zeros({6, 2, 3}), {}, p),
                       doctest::Contains("[lstm] input has 3 features (input is [6, 2, 3])"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(lstm(zeros({6, 2, 3}), {}, p), doctest::Contains("[20, 4]"), atto::Error);
  CHECK_THROWS_WITH_AS(lstm(zeros({2, 6, 2, 4}), {}, p), doctest::Contains("[lstm] input must be 3-d"), atto::Error);
  CHECK_THROWS_WITH_AS(lstm(x, {zeros({1, 3, 5}), {}}, p), doctest::Contains("h0 must be float32 [1, 2, 5]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(lstm(x.to(kFloat64), {}, p), doctest::Contains("dtype"), atto::Error);
  CHECK_THROWS_WITH_AS(gru(x, {}, p), doctest::Contains("[gru] layer 0: w_hh must be [3 * hidden_size"), atto::Error);
  CHECK_THROWS_WITH_AS(lstm(x, {}, {p[0], p[1]}), doctest::Contains("[lstm] expected 4 parameter tensors"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(lstm(x, {}, p, {.lengths = {3}}), doctest::Contains("got 1 lengths for a batch of 2"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(lstm(x, {}, p, {.lengths = {3, 7}}), doctest::Contains("lengths[1] = 7 is outside [0, 6]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(SeqLengths(zeros({2})), doctest::Contains("int64"), atto::Error);
  CHECK_THROWS_WITH_AS(lstm_cell(zeros({2, 3}), {zeros({2, 5}), zeros({2, 5})}, p[0], p[1], p[2], p[3]),
                       doctest::Contains("[lstm_cell] input has 3 features (input is [2, 3]), but w_ih is [20, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(gru_cell(zeros({2, 4}), zeros({2, 5}), p[0], p[1]), doctest::Contains("[gru_cell]"),
                       atto::Error);
}

// ---- modules --------------------------------------------------------------------------------------------------

namespace {

std::string text(const RefTensor& r) {
  std::string s;
  for (double v : r.values) s += char(int(v));
  return s;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t next = s.find(' ', pos);
    if (next == std::string::npos) next = s.size();
    out.push_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// A state dict of the case's parameters under PyTorch's names (the recorded keys).
StateDict state_dict_of(const std::vector<std::string>& keys, const std::vector<Tensor>& params) {
  REQUIRE(keys.size() == params.size());
  StateDict d;
  for (size_t i = 0; i < keys.size(); ++i) d.insert(keys[i], params[i]);
  return d;
}

nn::RNNOptions module_options(const LayerCase& c) {
  nn::RNNOptions o{.input_size = c.I, .hidden_size = c.H, .num_layers = c.L, .bias = c.bias,
                   .batch_first = c.batch_first, .bidirectional = c.bi};
  if (c.mode == RNNMode::RNN_RELU) o.nonlinearity = "relu";
  return o;
}

std::shared_ptr<nn::RNNBase> make_module(const LayerCase& c) {
  switch (c.mode) {
    case RNNMode::LSTM: return std::make_shared<nn::LSTM>(module_options(c));
    case RNNMode::GRU: return std::make_shared<nn::GRU>(module_options(c));
    default: return std::make_shared<nn::RNN>(module_options(c));
  }
}

#define ATTO_MODULE_EXTRA(n) std::pair{&ref::rnn::n##_keys, &ref::rnn::n##_repr}

// keys and repr of each layer case, in layer_cases() order.
std::vector<std::pair<const RefTensor*, const RefTensor*>> layer_extras() {
  return {ATTO_MODULE_EXTRA(lstm_2l_bi_bf), ATTO_MODULE_EXTRA(lstm_1l),        ATTO_MODULE_EXTRA(gru_2l_bi),
          ATTO_MODULE_EXTRA(rnn_relu_2l),   ATTO_MODULE_EXTRA(rnn_tanh_bi_nobias), ATTO_MODULE_EXTRA(lstm_unbatched),
          ATTO_MODULE_EXTRA(lstm_len),      ATTO_MODULE_EXTRA(gru_len_bf),     ATTO_MODULE_EXTRA(rnn_len)};
}

std::vector<std::pair<const RefTensor*, const RefTensor*>> cell_extras() {
  return {ATTO_MODULE_EXTRA(lstm_cell),     ATTO_MODULE_EXTRA(gru_cell),
          ATTO_MODULE_EXTRA(rnn_tanh_cell), ATTO_MODULE_EXTRA(rnn_relu_cell),
          ATTO_MODULE_EXTRA(lstm_cell_nobias_unbatched), ATTO_MODULE_EXTRA(gru_cell_unbatched)};
}

}  // namespace

TEST_CASE("rnn modules have PyTorch's parameter names and shapes and repr and load its state_dict") {
  auto extras = layer_extras();
  for (size_t k = 0; k < layer_cases().size(); ++k) {
    const LayerCase& c = layer_cases()[k];
    CAPTURE(c.name);
    auto m = make_module(c);
    std::vector<std::string> keys = words(text(*extras[k].first));
    CHECK(m->named_parameters().keys() == keys);
    CHECK(m->repr() == text(*extras[k].second));
    std::vector<Shape> shapes = param_shapes(c.mode, c.I, c.H, c.L, c.bi, c.bias);
    auto named = m->named_parameters();
    size_t i = 0;
    for (auto& [name, p] : named) CHECK(p.shape() == shapes[i++]);

    // Load PyTorch's values, then run the module in float32 and float64 against the recorded results.
    for (DType dtype : {kFloat32, kFloat64}) {
      CAPTURE(dtype);
      const Expect& e = dtype == kFloat32 ? c.f32 : c.f64;
      const double rtol = dtype == kFloat32 ? 1e-5 : 1e-10, atol = dtype == kFloat32 ? 1e-6 : 1e-12;
      m->to(dtype);
      m->load_state_dict(state_dict_of(keys, unflatten(c.params, shapes, dtype)));
      m->zero_grad();
      Tensor x = c.x.tensor(dtype).requires_grad_();
      Tensor h0 = has(c.h0) ? c.h0.tensor(dtype).requires_grad_() : Tensor();
      Tensor c0 = has(c.c0) ? c.c0.tensor(dtype).requires_grad_() : Tensor();
      SeqLengths lengths = has(c.lengths) ? SeqLengths(c.lengths.tensor(kInt64)) : SeqLengths();
      Tensor out, h_n, c_n;
      if (c.mode == RNNMode::LSTM) {
        auto [o, state] = (*std::static_pointer_cast<nn::LSTM>(m))(x, {h0, c0}, lengths);
        out = o, h_n = state.first, c_n = state.second;
      } else if (c.mode == RNNMode::GRU) {
        std::tie(out, h_n) = (*std::static_pointer_cast<nn::GRU>(m))(x, h0, lengths);
      } else {
        std::tie(out, h_n) = (*std::static_pointer_cast<nn::RNN>(m))(x, h0, lengths);
      }
      CHECK(out.shape() == Shape(e.out.shape));
      CHECK(h_n.shape() == Shape(e.h_n.shape));
      CHECK_ALLCLOSE(out, e.out.values, rtol, atol);
      CHECK_ALLCLOSE(h_n, e.h_n.values, rtol, atol);
      Tensor loss = (out * c.w_out.tensor(dtype)).sum() + (h_n * c.w_h.tensor(dtype)).sum();
      if (c_n.defined()) {
        CHECK_ALLCLOSE(c_n, e.c_n.values, rtol, atol);
        loss = loss + (c_n * c.w_c.tensor(dtype)).sum();
      }
      loss.backward();
      CHECK_ALLCLOSE(x.grad(), e.gx.values, rtol, atol);
      if (h0.defined()) CHECK_ALLCLOSE(h0.grad(), e.gh0.values, rtol, atol);
      if (c0.defined()) CHECK_ALLCLOSE(c0.grad(), e.gc0.values, rtol, atol);
      CHECK_ALLCLOSE(flat_grads(m->parameters()), e.gparams.values, rtol, atol);
    }
  }
}

TEST_CASE("rnn cell modules have PyTorch's names and repr and match it after loading its state_dict") {
  auto extras = cell_extras();
  for (size_t k = 0; k < cell_cases().size(); ++k) {
    const CellCase& c = cell_cases()[k];
    CAPTURE(c.name);
    nn::RNNCellOptions o{.input_size = c.I, .hidden_size = c.H, .bias = c.bias};
    if (c.mode == RNNMode::RNN_RELU) o.nonlinearity = "relu";
    std::shared_ptr<nn::RNNCellBase> m;
    if (c.mode == RNNMode::LSTM) m = std::make_shared<nn::LSTMCell>(o);
    else if (c.mode == RNNMode::GRU) m = std::make_shared<nn::GRUCell>(o);
    else m = std::make_shared<nn::RNNCell>(o);
    std::vector<std::string> keys = words(text(*extras[k].first));
    CHECK(m->named_parameters().keys() == keys);
    CHECK(m->repr() == text(*extras[k].second));
    m->load_state_dict(state_dict_of(keys, unflatten(c.params, param_shapes(c.mode, c.I, c.H, 1, false, c.bias),
                                                     kFloat32)));
    Tensor x = c.x.tensor(kFloat32).requires_grad_(), h = c.h.tensor(kFloat32).requires_grad_();
    Tensor h1, c1;
    if (c.mode == RNNMode::LSTM) {
      Tensor cs = c.c.tensor(kFloat32);
      std::tie(h1, c1) = (*std::static_pointer_cast<nn::LSTMCell>(m))(x, {h, cs});
    } else if (c.mode == RNNMode::GRU) {
      h1 = (*std::static_pointer_cast<nn::GRUCell>(m))(x, h);
    } else {
      h1 = (*std::static_pointer_cast<nn::RNNCell>(m))(x, h);
    }
    CHECK_ALLCLOSE(h1, c.f32.h1.values);
    if (c1.defined()) CHECK_ALLCLOSE(c1, c.f32.c1.values);
    Tensor loss = (h1 * c.w_h.tensor(kFloat32)).sum();
    if (c1.defined()) loss = loss + (c1 * c.w_c.tensor(kFloat32)).sum();
    loss.backward();
    CHECK_ALLCLOSE(x.grad(), c.f32.gx.values);
    CHECK_ALLCLOSE(h.grad(), c.f32.gh.values);
    CHECK_ALLCLOSE(flat_grads(m->parameters()), c.f32.gparams.values);
  }
}

TEST_CASE("rnn modules default to zero states and PyTorch's uniform init") {
  nn::LSTM lstm({.input_size = 3, .hidden_size = 16, .num_layers = 2, .bidirectional = true});
  const double bound = 1.0 / std::sqrt(16.0);
  for (auto& [name, p] : lstm.named_parameters()) {
    CAPTURE(name);
    CHECK(p.requires_grad());
    CHECK(p.dtype() == kFloat32);
    CHECK(max(abs(p)).item<double>() <= bound);
    if (p.numel() >= 64) CHECK(max(abs(p)).item<double>() > 0.8 * bound);   // spread over the interval
  }
  Tensor x = uniform({5, 2, 3}, -1, 1, 1, kFloat32);
  auto [out, state] = lstm(x);
  auto [out0, state0] = lstm(x, {zeros({4, 2, 16}), zeros({4, 2, 16})});
  CHECK(out.shape() == Shape{5, 2, 32});
  CHECK(state.first.shape() == Shape{4, 2, 16});
  CHECK_ALLCLOSE(out, out0, 0.0, 0.0);
  CHECK_ALLCLOSE(state.second, state0.second, 0.0, 0.0);
  nn::GRUCell cell(3, 4);
  CHECK(cell.weight_ih.shape() == Shape{12, 3});
  CHECK_ALLCLOSE(cell(x[0]), cell(x[0], zeros({2, 4})), 0.0, 0.0);
}

TEST_CASE("rnn modules apply dropout only in training and run hooks on the output") {
  nn::GRU gru({.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 1.0});
  Tensor x = uniform({5, 2, 3}, -1, 1, 1, kFloat32);
  gru.eval();
  auto [eval_out, eval_h] = gru(x);
  gru.train();
  auto [train_out, train_h] = gru(x);
  // Dropout 1 zeroes layer 1's input: its output differs, layer 0's final state does not.
  CHECK_FALSE(atto::testing::allclose(train_out, eval_out));
  CHECK_ALLCLOSE(train_h[0], eval_h[0], 0.0, 0.0);
  gru.eval();
  int calls = 0;
  gru.register_forward_hook([&](nn::Module&, const Tensor& y) {
    ++calls;
    return y * 2.0;
  });
  auto [hooked, h] = gru(x);
  CHECK(calls == 1);
  CHECK_ALLCLOSE(hooked, eval_out * 2.0, 0.0, 0.0);
}

TEST_CASE("rnn module errors name the module and show the shapes") {
  nn::LSTM lstm(4, 5);
  CHECK_THROWS_WITH_AS(lstm(zeros({6, 2, 3})),
                       doctest::Contains("[LSTM] input has 3 features (input is [6, 2, 3]), "
                                         "but weight_ih_l0 is [20, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(lstm(zeros({6, 2, 4}), {zeros({2, 2, 5}), {}}),
                       doctest::Contains("[LSTM] h0 must be float32 [1, 2, 5]"),
                       atto::Error);
  nn::GRU gru({.input_size = 4, .hidden_size = 5, .batch_first = true});
  CHECK_THROWS_WITH_AS(gru(zeros({2, 6, 5})), doctest::Contains("[GRU] input has 5 features (input is [2, 6, 5])"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(nn::RNN({.input_size = 4, .hidden_size = 5, .nonlinearity = "sigmoid"}),
                       doctest::Contains("[RNN] nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"), atto::Error);
  CHECK_THROWS_WITH_AS(nn::LSTM({.input_size = 4, .hidden_size = 0}),
                       doctest::Contains("[LSTM] input_size and hidden_size"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(nn::GRU({.input_size = 4, .hidden_size = 5, .dropout = 1.5}), doctest::Contains("[GRU] dropout"),
                       atto::Error);
  nn::LSTMCell cell(4, 5);
  CHECK_THROWS_WITH_AS(cell(zeros({2, 3})),
                       doctest::Contains("[LSTMCell] expected input [batch, 4] or [4] (input_size 4), got [2, 3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(nn::RNNCell({.input_size = 4, .hidden_size = 5, .nonlinearity = "gelu"}),
                       doctest::Contains("[RNNCell] nonlinearity"), atto::Error);
}
