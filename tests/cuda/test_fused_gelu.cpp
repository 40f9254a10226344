// tests/cuda/test_fused_gelu.cpp -- bias_gelu (autograd/functions/fused.h): the fused CUDA kernels
// (cuda/fused.cu) against the composite gelu(add(y, bias)) on the GPU and on the CPU, and its use in
// TransformerEncoderLayer's feed-forward block. The first case runs in every build.
//
// Tolerances: the fused kernel computes each value with the same GELU functor as the gelu kernel,
// from the same y + bias, so it matches the CUDA composite to the last bits or nearly (the compiler
// may contract differently in the two kernels): rtol 1e-6. Against the CPU, whose float GELU uses
// its own vectorised erf/exp, and for the bias gradient (a sum over rows in another order): the CPU
// tests' 1e-5 rel in float32, 1e-12 in float64.
#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

struct Run {
  Tensor out, dy, dbias;
  std::string grad_fn;
};

// out = f(y, bias) on `device`, then backward of sum(out * dout); everything back on the CPU.
// y0 is a leaf of its own shape; y_view, if given, turns it into the y passed (on the device).
Run run(bool fused, Device device, const Tensor& y0, const Tensor& b0, const Tensor& dout, GeluApprox approx,
        Tensor (*y_view)(const Tensor&) = nullptr) {
  Tensor y = y0.detach().to(device).requires_grad_(), b = b0.detach().to(device).requires_grad_();
  Tensor yv = y_view ? y_view(y) : y;
  Tensor out = fused ? bias_gelu(yv, b, approx) : gelu(add(yv, b), approx);
  Run r;
  r.grad_fn = out.grad_fn() ? out.grad_fn()->name() : "";
  out.backward(dout.to(device));
  r.out = out.detach().cpu();
  r.dy = y.grad().cpu();
  r.dbias = b.grad().cpu();
  return r;
}

void check_close(const Run& got, const Run& ref, double rtol, double atol) {
  CHECK_ALLCLOSE(got.out, ref.out, rtol, atol);
  CHECK_ALLCLOSE(got.dy, ref.dy, rtol, atol);
  CHECK_ALLCLOSE(got.dbias, ref.dbias, rtol, atol);
}

}  // namespace

TEST_CASE("bias_gelu is gelu of y plus bias on the CPU and checks its inputs") {
  Tensor y = uniform({4, 7}, -3, 3, 1), b = uniform({7}, -1, 1, 2);
  for (GeluApprox approx : {GeluApprox::None, GeluApprox::Tanh}) {
    Run got = run(true, kCPU, y, b, ones({4, 7}, {.dtype = kFloat64}), approx);
    Run ref = run(false, kCPU, y, b, ones({4, 7}, {.dtype = kFloat64}), approx);
    CHECK(got.out.to_vector<double>() == ref.out.to_vector<double>());
    CHECK(got.dy.to_vector<double>() == ref.dy.to_vector<double>());
    CHECK(got.dbias.to_vector<double>() == ref.dbias.to_vector<double>());
  }
  CHECK_THROWS_WITH_AS(bias_gelu(y, uniform({6}, -1, 1, 3)), doctest::Contains("[bias_gelu] expects y (..., N)"), Error);
  CHECK_THROWS_WITH_AS(bias_gelu(y, b.to(kFloat32)), doctest::Contains("one floating dtype"), Error);
}

TEST_SUITE("cuda") {

TEST_CASE("cuda: bias_gelu matches the composite on CUDA and on the CPU with grads of y and bias") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 10;
  for (DType dtype : {kFloat32, kFloat64}) {
    const double rtol_cpu = dtype == kFloat32 ? 1e-5 : 1e-12, atol_cpu = dtype == kFloat32 ? 1e-6 : 1e-13;
    const double rtol_gpu = dtype == kFloat32 ? 1e-6 : 1e-14, atol_gpu = dtype == kFloat32 ? 1e-7 : 1e-15;
    for (int64_t rows : kAwkwardSizes) {
      for (int64_t n : kAwkwardSizes) {
        for (GeluApprox approx : {GeluApprox::None, GeluApprox::Tanh}) {
          const std::string dtype_name = fmt::format("{}", dtype);
          CAPTURE(dtype_name);
          CAPTURE(rows);
          CAPTURE(n);
          CAPTURE(int(approx));
          seed += 3;
          Tensor y = uniform({rows, n}, -4, 4, seed, dtype), b = uniform({n}, -1, 1, seed + 1, dtype);
          Tensor dout = uniform({rows, n}, -1, 1, seed + 2, dtype);
          Run fused = run(true, kCUDA, y, b, dout, approx);
          CHECK(fused.grad_fn == std::string("BiasGeluBackward"));
          check_close(fused, run(false, kCUDA, y, b, dout, approx), rtol_gpu, atol_gpu);
          check_close(fused, run(false, kCPU, y, b, dout, approx), rtol_cpu, atol_cpu);
        }
      }
    }
  }
}

TEST_CASE("cuda: bias_gelu reads a non-contiguous y with batch dims") {
  ATTO_REQUIRE_CUDA();
  // The leaf is (3, 37, 5, 2); y is its transpose (3, 2, 5, 37), so the bias runs along a strided dim.
  Tensor y = uniform({3, 37, 5, 2}, -4, 4, 1, kFloat32), b = uniform({37}, -1, 1, 2, kFloat32);
  Tensor dout = uniform({3, 2, 5, 37}, -1, 1, 3, kFloat32);
  auto last_first = [](const Tensor& t) { return t.transpose(1, 3); };
  Run fused = run(true, kCUDA, y, b, dout, GeluApprox::None, last_first);
  Run cpu = run(false, kCPU, y, b, dout, GeluApprox::None, last_first);
  check_close(fused, cpu, 1e-5, 1e-6);
}

TEST_CASE("cuda: a GELU TransformerEncoderLayer on CUDA matches the CPU") {
  ATTO_REQUIRE_CUDA();
  // Eval mode: no dropout, so the CUDA layer takes bias_gelu in its feed-forward block and the fused
  // attention in its self-attention (no mask, no weights asked for).
  nn::TransformerEncoderLayerOptions o;
  o.d_model = 32;
  o.nhead = 4;
  o.dim_feedforward = 64;
  o.activation = nn::Activation::GELU;
  o.batch_first = true;
  auto cpu_layer = std::make_shared<nn::TransformerEncoderLayer>(o);
  auto gpu_layer = std::make_shared<nn::TransformerEncoderLayer>(o);
  gpu_layer->load_state_dict(cpu_layer->state_dict());
  gpu_layer->to(kCUDA);
  cpu_layer->eval();
  gpu_layer->eval();
  Tensor x = uniform({2, 37, 32}, -1, 1, 4, kFloat32);
  Tensor xc = x.detach().requires_grad_(), xg = x.to(kCUDA).requires_grad_();
  Tensor yc = (*cpu_layer)(xc), yg = (*gpu_layer)(xg);
  CHECK_ALLCLOSE(yg, yc, 1e-4, 1e-5);
  sum(yc).backward();
  sum(yg).backward();
  CHECK_ALLCLOSE(xg.grad(), xc.grad(), 1e-4, 1e-5);
  CHECK_ALLCLOSE(gpu_layer->linear1->bias.grad(), cpu_layer->linear1->bias.grad(), 1e-4, 1e-5);
}

}  // TEST_SUITE("cuda")
