// tests/cuda_test_util.h -- how a CUDA test case runs, or says it did not.
//
// Every CUDA test case sits in doctest's test suite "cuda" (so `attograd_tests -ts=cuda` runs them
// all, as scripts/gpu-check.sh does) and begins with ATTO_REQUIRE_CUDA(). Without a usable device
// that prints a line ctest recognises (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt): the case
// is reported as *skipped*, never as passed.
#pragma once
#include <cstdio>
#include <functional>
#include <vector>

#include "test_util.h"

#define ATTO_REQUIRE_CUDA()                                                                          \
  do {                                                                                               \
    if (!::atto::cuda_is_available()) {                                                              \
      std::printf("ATTO-CUDA-SKIPPED: %s (%s)\n", doctest::getContextOptions()->currentTest->m_name, \
                  ::atto::built_with_cuda() ? "no CUDA device on this machine" : "built without CUDA"); \
      return;                                                                                        \
    }                                                                                                \
  } while (0)

namespace atto::testing {

// The shapes the CUDA tests use: sizes that are not multiples of a warp or a block.
inline constexpr int64_t kAwkwardSizes[] = {1, 37, 1025};

// The same values on the GPU. Compare results with CHECK_ALLCLOSE(gpu, cpu): it copies back itself.
inline Tensor on_cuda(const Tensor& t) { return t.to(kCUDA); }

// fn on CPU leaves and on CUDA copies of them (the views fn takes are then made on the GPU, so the
// CUDA kernels see the same strides): the outputs, then every leaf's gradient of sum(out * w) for a
// fixed random w, GPU against CPU.
using TensorsFn = std::function<Tensor(const std::vector<Tensor>&)>;
inline void check_on_cuda(const std::vector<Tensor>& inputs, const TensorsFn& fn, double rtol, double atol) {
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    cpu_in.push_back(t.detach().clone().requires_grad_());
    gpu_in.push_back(t.detach().to(kCUDA).requires_grad_());
  }
  Tensor yc = fn(cpu_in), yg = fn(gpu_in);
  REQUIRE(yg.device().is_cuda());
  REQUIRE(yg.shape() == yc.shape());
  CHECK(yg.dtype() == yc.dtype());
  CHECK_ALLCLOSE(yg, yc, rtol, atol);
  Tensor w = uniform(yc.shape(), -1, 1, 99, yc.dtype());
  (yc * w).sum().backward();
  (yg * w.to(kCUDA)).sum().backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    REQUIRE(gpu_in[i].grad().defined());
    CHECK(gpu_in[i].grad().device().is_cuda());
    CHECK_ALLCLOSE(gpu_in[i].grad(), cpu_in[i].grad(), rtol, atol);
  }
}

}  // namespace atto::testing
