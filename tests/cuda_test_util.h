// tests/cuda_test_util.h -- how a CUDA test case runs, or says it did not.
//
// Every CUDA test case sits in doctest's test suite "cuda" (so `attograd_tests -ts=cuda` runs them
// all, as scripts/gpu-check.sh does) and begins with ATTO_REQUIRE_CUDA(). Without a usable device
// that prints a line ctest recognises (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt): the case
// is reported as *skipped*, never as passed.
#pragma once
#include <cstdio>

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

}  // namespace atto::testing
