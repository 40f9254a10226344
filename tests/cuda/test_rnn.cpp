// tests/cuda/test_rnn.cpp -- the LSTM kernels on CUDA (cuda/rnn.cu): nn::LSTM against the same module
// on the CPU (outputs, states, every gradient), lstm_sequence and the fused lstm_pointwise against
// the CPU, and lstm_pointwise against the composite cell built from elementwise ops on the GPU.
#include <functional>

#include "autograd/functions/rnn_cells.h"
#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

TEST_SUITE("cuda") {

TEST_CASE("cuda: nn::LSTM with two bidirectional batch_first layers matches the CPU module") {
  ATTO_REQUIRE_CUDA();
  const int64_t B = 5, T = 37, I = 7, H = 33, L = 2, D = 2;
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    nn::LSTM cpu_lstm({.input_size = I, .hidden_size = H, .num_layers = L, .batch_first = true, .bidirectional = true});
    nn::LSTM gpu_lstm({.input_size = I, .hidden_size = H, .num_layers = L, .batch_first = true, .bidirectional = true});
    cpu_lstm.to(dtype);
    gpu_lstm.to(dtype);
    gpu_lstm.load_state_dict(cpu_lstm.state_dict());   // the same weights
    gpu_lstm.to(kCUDA);
    for (const Tensor& p : gpu_lstm.parameters()) REQUIRE(p.device().is_cuda());

    Tensor x = uniform({B, T, I}, -1, 1, 1, dtype), h0 = uniform({L * D, B, H}, -1, 1, 2, dtype),
           c0 = uniform({L * D, B, H}, -1, 1, 3, dtype);
    Tensor xc = x.clone().requires_grad_(), h0c = h0.clone().requires_grad_(), c0c = c0.clone().requires_grad_();
    Tensor xg = x.to(kCUDA).requires_grad_(), h0g = h0.to(kCUDA).requires_grad_(), c0g = c0.to(kCUDA).requires_grad_();
    auto [out_c, state_c] = cpu_lstm(xc, {h0c, c0c});
    auto [out_g, state_g] = gpu_lstm(xg, {h0g, c0g});
    REQUIRE(out_g.device().is_cuda());

    // 37 recurrent steps of two independent float32 implementations (cuBLAS vs OpenBLAS sums, CUDA's
    // expf/tanhf vs libm) compound their rounding: float32 is held to 1e-4 relative, 1e-5 absolute.
    const double rtol = dtype == kFloat32 ? 1e-4 : 1e-10, atol = dtype == kFloat32 ? 1e-5 : 1e-12;
    CHECK_ALLCLOSE(out_g, out_c, rtol, atol);
    CHECK_ALLCLOSE(state_g.first, state_c.first, rtol, atol);
    CHECK_ALLCLOSE(state_g.second, state_c.second, rtol, atol);

    Tensor wo = uniform(out_c.shape(), -1, 1, 4, dtype), wh = uniform(state_c.first.shape(), -1, 1, 5, dtype),
           wc = uniform(state_c.second.shape(), -1, 1, 6, dtype);
    ((out_c * wo).sum() + (state_c.first * wh).sum() + (state_c.second * wc).sum()).backward();
    ((out_g * wo.to(kCUDA)).sum() + (state_g.first * wh.to(kCUDA)).sum() + (state_g.second * wc.to(kCUDA)).sum())
        .backward();
    CHECK_ALLCLOSE(xg.grad(), xc.grad(), rtol, atol);
    CHECK_ALLCLOSE(h0g.grad(), h0c.grad(), rtol, atol);
    CHECK_ALLCLOSE(c0g.grad(), c0c.grad(), rtol, atol);
    StateDict pc = cpu_lstm.named_parameters(), pg = gpu_lstm.named_parameters();
    REQUIRE(pc.size() == pg.size());
    REQUIRE(pc.size() == size_t(L * D * 4));
    for (const auto& [name, p] : pc) {
      CAPTURE(name);
      const Tensor& q = pg.at(name);
      REQUIRE(q.grad().defined());
      CHECK(q.grad().device().is_cuda());
      CHECK_ALLCLOSE(q.grad(), p.grad(), rtol, atol);
    }
  }
}

TEST_CASE("cuda: lstm_sequence matches the CPU in both directions with and without b_hh") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t B : kAwkwardSizes) {
      for (bool reverse : {false, true}) {
        for (bool bias : {true, false}) {
          CAPTURE(dtype);
          CAPTURE(B);
          CAPTURE(reverse);
          CAPTURE(bias);
          const int64_t T = 6, H = 37;
          std::vector<Tensor> in = {uniform({T, B, 4 * H}, -2, 2, 7, dtype), uniform({B, H}, -1, 1, 8, dtype),
                                    uniform({B, H}, -1, 1, 9, dtype), uniform({4 * H, H}, -0.3, 0.3, 10, dtype)};
          if (bias) in.push_back(uniform({4 * H}, -1, 1, 11, dtype));
          const double rtol = dtype == kFloat32 ? 1e-4 : 1e-10, atol = dtype == kFloat32 ? 1e-5 : 1e-12;
          check_on_cuda(in,
                        [&](const std::vector<Tensor>& v) {
                          return lstm_sequence(v[0], v[1], v[2], v[3], v.size() > 4 ? v[4] : Tensor{}, reverse);
                        },
                        rtol, atol);
        }
      }
    }
  }
}

TEST_CASE("cuda: the fused lstm_pointwise matches the CPU kernel and the composite cell") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t B : kAwkwardSizes) {
      CAPTURE(dtype);
      CAPTURE(B);
      const int64_t H = 37;
      const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
      // the kernel against the CPU's, with a transposed (non-contiguous) gates operand
      check_on_cuda({uniform({4 * H, B}, -3, 3, 12, dtype), uniform({B, H}, -2, 2, 13, dtype)},
                    [](const std::vector<Tensor>& v) { return lstm_pointwise(v[0].t(), v[1]); }, tol, tol);

      // the kernel against the composite of chunk/sigmoid/tanh/mul/add, both on the GPU
      Tensor gates = uniform({B, 4 * H}, -3, 3, 14, dtype).to(kCUDA), c = uniform({B, H}, -2, 2, 15, dtype).to(kCUDA);
      Tensor g1 = gates.clone().requires_grad_(), c1 = c.clone().requires_grad_();
      Tensor g2 = gates.clone().requires_grad_(), c2 = c.clone().requires_grad_();
      Tensor hc = lstm_pointwise(g1, c1);
      Tensor h_fused = hc.narrow(1, 0, H), c_fused = hc.narrow(1, H, H);
      std::vector<Tensor> g = chunk(g2, 4, 1);
      Tensor c_comp = sigmoid(g[1]) * c2 + sigmoid(g[0]) * tanh(g[2]);
      Tensor h_comp = sigmoid(g[3]) * tanh(c_comp);
      CHECK_ALLCLOSE(h_fused, h_comp, tol, tol);
      CHECK_ALLCLOSE(c_fused, c_comp, tol, tol);
      Tensor wh = uniform({B, H}, -1, 1, 16, dtype).to(kCUDA), wc = uniform({B, H}, -1, 1, 17, dtype).to(kCUDA);
      ((h_fused * wh).sum() + (c_fused * wc).sum()).backward();
      ((h_comp * wh).sum() + (c_comp * wc).sum()).backward();
      CHECK_ALLCLOSE(g1.grad(), g2.grad(), tol, tol);
      CHECK_ALLCLOSE(c1.grad(), c2.grad(), tol, tol);
    }
  }
}

TEST_CASE("cuda: lstm_cell on the GPU matches the CPU") {
  ATTO_REQUIRE_CUDA();
  const int64_t B = 37, I = 5, H = 37;
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
    check_on_cuda({uniform({B, I}, -1, 1, 18, dtype), uniform({B, H}, -1, 1, 19, dtype),
                   uniform({B, H}, -1, 1, 20, dtype), uniform({4 * H, I}, -1, 1, 21, dtype),
                   uniform({4 * H, H}, -1, 1, 22, dtype), uniform({4 * H}, -1, 1, 23, dtype),
                   uniform({4 * H}, -1, 1, 24, dtype)},
                  [&](const std::vector<Tensor>& v) {
                    auto [h, c] = lstm_cell(v[0], {v[1], v[2]}, v[3], v[4], v[5], v[6]);
                    return cat({h, c}, 1);
                  },
                  tol, tol);
  }
}

}  // TEST_SUITE("cuda")
