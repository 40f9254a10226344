// tests/cuda/test_matmul.cpp -- matmul, bmm and linear on CUDA (cuda/gemm.cu, cuBLAS) against the
// CPU: forward and every gradient, for plain, transposed, sliced, broadcast and 1-d operands, in
// float32 (TF32 off, the default) and float64; and TF32 on, checked loosely.
#include <cmath>
#include <functional>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

using Fn = TensorsFn;

// Tolerances for a product summing K terms of size ~1 in float32: both sides round each partial
// sum, in different orders (cuBLAS's k-split vs OpenBLAS's), so the absolute error grows like
// sqrt(K) * eps * |term|. rtol is the CPU tests' 1e-5; atol covers results that cancel to near 0.
double atol_f32(int64_t K) { return 2e-6 * std::sqrt(double(std::max<int64_t>(K, 1))); }

// rtol, atol for dtype when the longest sum has K terms.
std::pair<double, double> tol(DType dtype, int64_t K) {
  return dtype == kFloat32 ? std::pair{1e-5, atol_f32(K)} : std::pair{1e-12, 1e-12 * std::sqrt(double(K))};
}

Fn mm = [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); };

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: matmul of 2-d operands matches the CPU for awkward sizes in float32 and float64") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t M : kAwkwardSizes)
      for (int64_t K : kAwkwardSizes)
        for (int64_t N : kAwkwardSizes) {
          if (M * K * N > 37 * 1025 * 37) continue;   // keeps the CPU side of the test quick
          CAPTURE(dtype);
          CAPTURE(M);
          CAPTURE(K);
          CAPTURE(N);
          auto [rtol, atol] = tol(dtype, std::max({M, K, N}));   // the backward sums over M or N too
          check_on_cuda({uniform({M, K}, -1, 1, 1, dtype), uniform({K, N}, -1, 1, 2, dtype)}, mm, rtol, atol);
        }
  }
}

TEST_CASE("cuda: matmul reads transposed and sliced operands in place") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    auto [rtol, atol] = tol(dtype, 1025);
    // transposes: gemm's trans flags (a is stored [K, M], b [N, K])
    check_on_cuda({uniform({1025, 37}, -1, 1, 3, dtype), uniform({33, 1025}, -1, 1, 4, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0].t(), v[1].t()); }, rtol, atol);
    check_on_cuda({uniform({37, 1025}, -1, 1, 5, dtype), uniform({33, 1025}, -1, 1, 6, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0], v[1].t()); }, rtol, atol);
    // rows with a stride: a leading dimension larger than the row (ld = 2 * 1025)
    check_on_cuda({uniform({74, 1025}, -1, 1, 7, dtype), uniform({1025, 37}, -1, 1, 8, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0].slice(0, 0, 74, 2), v[1]); }, rtol, atol);
    // columns with a step: no BLAS layout, copied first
    check_on_cuda({uniform({37, 2050}, -1, 1, 9, dtype), uniform({1025, 37}, -1, 1, 10, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0].slice(1, 0, 2050, 2), v[1]); }, rtol, atol);
    // a column window of a wider matrix: ld > N for B and for the gradient's view
    check_on_cuda({uniform({37, 64}, -1, 1, 11, dtype), uniform({64, 100}, -1, 1, 12, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0], v[1].narrow(1, 3, 37)); }, rtol, atol);
  }
}

TEST_CASE("cuda: matmul with 1-d operands matches the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    auto [rtol, atol] = tol(dtype, 1025);
    check_on_cuda({uniform({1025}, -1, 1, 13, dtype), uniform({1025}, -1, 1, 14, dtype)}, mm, rtol, atol);   // dot
    check_on_cuda({uniform({1025}, -1, 1, 15, dtype), uniform({1025, 37}, -1, 1, 16, dtype)}, mm, rtol, atol);
    check_on_cuda({uniform({37, 1025}, -1, 1, 17, dtype), uniform({1025}, -1, 1, 18, dtype)}, mm, rtol, atol);
    check_on_cuda({uniform({37}, -1, 1, 19, dtype), uniform({4, 37, 5}, -1, 1, 20, dtype)}, mm, rtol, atol);
    check_on_cuda({uniform({4, 5, 37}, -1, 1, 21, dtype), uniform({37}, -1, 1, 22, dtype)}, mm, rtol, atol);
  }
}

TEST_CASE("cuda: bmm and broadcast batched matmul match the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    auto [rtol, atol] = tol(dtype, 1025);
    // bmm: one strided-batched call
    check_on_cuda({uniform({5, 37, 1025}, -1, 1, 23, dtype), uniform({5, 1025, 33}, -1, 1, 24, dtype)},
                  [](const std::vector<Tensor>& v) { return bmm(v[0], v[1]); }, rtol, atol);
    // bmm of transposed batches (trans flags per matrix)
    check_on_cuda({uniform({5, 1025, 37}, -1, 1, 25, dtype), uniform({5, 33, 1025}, -1, 1, 26, dtype)},
                  [](const std::vector<Tensor>& v) { return bmm(v[0].transpose(1, 2), v[1].transpose(1, 2)); }, rtol,
                  atol);
    // a batch stride from a permute: [B, M, K] viewed out of [M, B, K]
    check_on_cuda({uniform({37, 6, 64}, -1, 1, 27, dtype), uniform({6, 64, 37}, -1, 1, 28, dtype)},
                  [](const std::vector<Tensor>& v) { return bmm(v[0].transpose(0, 1), v[1]); }, rtol, atol);
    // [B, M, K] @ [K, N]: the batch folds into the rows (one gemm); its backward sums dB over the batch
    check_on_cuda({uniform({3, 37, 64}, -1, 1, 29, dtype), uniform({64, 37}, -1, 1, 30, dtype)}, mm, rtol, atol);
    // broadcast batch dims that do not merge: [2, 1] x [3] -> [2, 3] (a's stride 0 on the inner dim)
    check_on_cuda({uniform({2, 1, 37, 64}, -1, 1, 31, dtype), uniform({3, 64, 33}, -1, 1, 32, dtype)}, mm, rtol, atol);
    // one matrix on the left against a batch on the right
    check_on_cuda({uniform({37, 64}, -1, 1, 33, dtype), uniform({4, 64, 5}, -1, 1, 34, dtype)}, mm, rtol, atol);
    // an expanded (stride 0) operand and a 4-d batch that merges into one dim
    check_on_cuda({uniform({1, 1, 37, 64}, -1, 1, 35, dtype), uniform({2, 3, 64, 5}, -1, 1, 36, dtype)},
                  [](const std::vector<Tensor>& v) { return matmul(v[0].expand({2, 3, 37, 64}), v[1]); }, rtol, atol);
  }
}

TEST_CASE("cuda: linear and empty products match the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    auto [rtol, atol] = tol(dtype, 1025);
    check_on_cuda({uniform({4, 7, 1025}, -1, 1, 37, dtype), uniform({37, 1025}, -1, 1, 38, dtype),
                   uniform({37}, -1, 1, 39, dtype)},
                  [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, rtol, atol);
    // K == 0: the product is zeros (gemm's beta-only path); M == 0: nothing to do
    Tensor a = zeros({3, 0}, {.dtype = dtype}), b = zeros({0, 4}, {.dtype = dtype});
    Tensor c = matmul(a.to(kCUDA), b.to(kCUDA));
    CHECK(c.shape() == Shape{3, 4});
    CHECK_ALLCLOSE(c, zeros({3, 4}, {.dtype = dtype}), 0.0, 0.0);
    CHECK(matmul(zeros({0, 5}, {.dtype = dtype}).to(kCUDA), zeros({5, 4}, {.dtype = dtype}).to(kCUDA)).shape() ==
          Shape{0, 4});
  }
}

TEST_CASE("cuda: float32 matmul with TF32 allowed stays close to the CPU") {
  ATTO_REQUIRE_CUDA();
  struct RestoreTf32 {
    bool was = cuda_allow_tf32();
    ~RestoreTf32() { cuda_set_allow_tf32(was); }
  } restore;
  const int64_t M = 256, K = 1025, N = 256;
  Tensor a = uniform({M, K}, -1, 1, 40, kFloat32), b = uniform({K, N}, -1, 1, 41, kFloat32);
  Tensor want = matmul(a, b);
  Tensor ag = a.to(kCUDA), bg = b.to(kCUDA);
  cuda_set_allow_tf32(false);
  CHECK_ALLCLOSE(matmul(ag, bg), want, 1e-5, atol_f32(K));
  cuda_set_allow_tf32(true);
  CHECK(cuda_allow_tf32());
  Tensor fast = matmul(ag, bg);
  // TF32 rounds each input to a 10-bit mantissa (relative error ~5e-4) before multiplying, so a
  // product of K terms of size ~1/3 is off by about 1e-3 * sqrt(K) / 3 in absolute terms -- on
  // results of size ~sqrt(K) / 3. The bound below is 10x that: loose, but it still catches a wrong
  // operand order or a missing transpose, which are off by the whole result.
  const double atol = 1e-2 * std::sqrt(double(K)) / 3;
  CHECK_ALLCLOSE(fast, want, 0.0, atol);
  double max_diff = max((fast.cpu() - want).abs()).item<double>();
  MESSAGE("TF32 matmul [256, 1025] @ [1025, 256]: max |GPU - CPU| = ", max_diff, " (bound ", atol, ")");
  cuda_set_allow_tf32(false);
  CHECK_ALLCLOSE(matmul(ag, bg), want, 1e-5, atol_f32(K));   // and back to full float32
}

}  // TEST_SUITE("cuda")
