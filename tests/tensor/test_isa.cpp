// tests/tensor/test_isa.cpp -- the kernels that run through `vectorized` (tensor/cpu/isa.h) give
// bitwise the same results with SSE2, AVX2 and AVX-512 code (NOTE [ CPU vector width ]): a training
// step's worth of float ops, forward and backward, run once per level this CPU has.
#include <cstdio>
#include <vector>

#include "nn/rnn.h"
#include "optim/adam.h"
#include "tensor/cpu/isa.h"
#include "test_util.h"

using namespace atto;
using atto::testing::uniform;

namespace {

struct IsaGuard {
  cpu::VectorIsa saved = cpu::vector_isa();
  ~IsaGuard() { cpu::set_vector_isa(saved); }
};

// Every output and gradient of a few float ops whose loops are vectorized: elementwise (contiguous
// and broadcast), GELU, tanh, sigmoid, softmax, log_softmax, layer_norm, masked_fill, an LSTM, and
// two Adam steps. Sizes are odd so that every copy also runs its remainder loop.
std::vector<Tensor> float_workload() {
  std::vector<Tensor> out;
  Tensor x = uniform({37, 67}, -6, 6, 1, kFloat32).requires_grad_();
  Tensor b = uniform({67}, -1, 1, 2, kFloat32).requires_grad_();
  Tensor w = uniform({67}, 0.5, 1.5, 3, kFloat32).requires_grad_();
  Tensor mask = uniform({37, 67}, 0, 1, 4, kFloat32) > 0.7;
  Tensor h = x * 0.5 + b;   // broadcast add
  Tensor y = gelu(h) + tanh(x) * sigmoid(h) + gelu(x, GeluApprox::Tanh);
  Tensor s = softmax(masked_fill(y, mask, -1e9), 1) + log_softmax(y * 0.3, 0);
  Tensor n = layer_norm(y, {67}, w, b);
  Tensor loss = (s * uniform({37, 67}, -1, 1, 5, kFloat32)).sum() + (n * n).sum();
  loss.backward();
  out.insert(out.end(), {h, y, s, n, loss, x.grad(), b.grad(), w.grad()});

  nn::LSTM lstm({.input_size = 5, .hidden_size = 19});
  for (auto& [name, p] : lstm.named_parameters())
    p.detach().copy_(uniform(p.shape(), -0.5, 0.5, name.size(), kFloat32));
  Tensor seq = uniform({7, 3, 5}, -2, 2, 6, kFloat32).requires_grad_();
  auto [o, state] = lstm(seq);
  (o.sum() + state.second.sum()).backward();
  out.insert(out.end(), {o, state.first, state.second, seq.grad()});

  optim::Adam adam(lstm.parameters(), {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
  adam.step();
  adam.step();
  for (const Tensor& p : lstm.parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

TEST_CASE("vectorized float kernels give the same bits at every vector width the CPU has") {
  IsaGuard guard;
  cpu::set_vector_isa(cpu::VectorIsa::kBaseline);
  REQUIRE(cpu::vector_isa() == cpu::VectorIsa::kBaseline);
  const std::vector<Tensor> baseline = float_workload();
  const cpu::VectorIsa best = cpu::best_vector_isa();
  if (best == cpu::VectorIsa::kBaseline)
    std::printf("test_isa: this CPU has neither AVX2 nor AVX-512; only the baseline code ran\n");
  for (cpu::VectorIsa isa : {cpu::VectorIsa::kAvx2, cpu::VectorIsa::kAvx512}) {
    if (int(isa) > int(best)) continue;
    CAPTURE(cpu::vector_isa_name(isa));
    cpu::set_vector_isa(isa);
    REQUIRE(cpu::vector_isa() == isa);
    const std::vector<Tensor> wide = float_workload();
    REQUIRE(wide.size() == baseline.size());
    for (size_t i = 0; i < wide.size(); ++i) {
      CAPTURE(i);
      CHECK(wide[i].to_vector<float>() == baseline[i].to_vector<float>());
    }
  }
}

TEST_CASE("set_vector_isa never goes above what the CPU supports") {
  IsaGuard guard;
  cpu::set_vector_isa(cpu::VectorIsa::kAvx512);
  CHECK(int(cpu::vector_isa()) <= int(cpu::best_vector_isa()));
  CHECK(std::string(cpu::vector_isa_name(cpu::VectorIsa::kAvx2)) == "avx2");
}
