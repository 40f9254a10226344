// tests/cuda/test_softmax_layernorm.cpp -- softmax, log_softmax and layer_norm on the GPU
// (cuda/softmax.cu, cuda/layernorm.cu) against the CPU kernels (tensor/cpu/softmax.h,
// tensor/cpu/layernorm.h): forward and backward on awkward row lengths, every dim (contiguous rows
// and strided lines), non-contiguous views, float32/float64, -inf/NaN/inf entries, affine or not,
// only some gradients, and run-to-run bitwise equality.
#include <cmath>
#include <vector>

#include "against_cpu.h"

using namespace atto;
using namespace atto::testing;

namespace {

// Rows of n: large values; masked (-inf at every third entry); all -inf (NaN out, as the CPU);
// a NaN entry; a +inf entry.
Tensor special_rows(int64_t n, DType dt) {
  std::vector<double> v = uniform({5, n}, -3.0, 3.0, 300 + uint64_t(n)).to_vector<double>();
  auto at = [&](int64_t r, int64_t j) -> double& { return v[size_t(r * n + j)]; };
  for (int64_t j = 0; j < n; ++j) at(0, j) += 1000.0;
  for (int64_t j = 1; j < n; j += 3) at(1, j) = -INFINITY;
  for (int64_t j = 0; j < n; ++j) at(2, j) = -INFINITY;
  at(3, n / 2) = NAN;
  at(4, n - 1) = INFINITY;
  return from_vector<double>(v, Shape{5, n}).to(dt);
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: softmax and log_softmax match the CPU on every dim") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = uniform({2, n, 3}, -4.0, 4.0, 200 + uint64_t(n), dt);
      for (int64_t dim : {0, 1, 2, -1}) {   // dim 2: contiguous rows; 0 and 1: strided lines
        CAPTURE(dim);
        check_against_cpu(x, [dim](const Tensor& t) { return softmax(t, dim); }, tol);
        check_against_cpu(x, [dim](const Tensor& t) { return log_softmax(t, dim); }, tol);
      }
      // rows of n (a warp per row for 1 and 37, a block per row for 1025 and 4097)
      Tensor rows = uniform({3, n}, -4.0, 4.0, 210 + uint64_t(n), dt);
      check_against_cpu(rows, [](const Tensor& t) { return softmax(t, -1); }, tol);
      check_against_cpu(rows, [](const Tensor& t) { return log_softmax(t, 1); }, tol);
      // non-contiguous views
      check_against_cpu(x, [](const Tensor& t) { return softmax(t.transpose(1, 2), -1); }, tol);
      check_against_cpu(x, [n](const Tensor& t) { return log_softmax(t.slice(1, 0, n, 2), 1); }, tol);
    }
  }
}

TEST_CASE("cuda: softmax of large and masked and NaN and inf entries matches the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = special_rows(n, dt);
      check_against_cpu(x, [](const Tensor& t) { return softmax(t, 1); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return log_softmax(t, 1); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return softmax(t, 0); }, tol);   // strided lines
      check_against_cpu(x, [](const Tensor& t) { return log_softmax(t, 0); }, tol);
    }
  }
}

TEST_CASE("cuda: layer_norm matches the CPU with and without weight and bias") {
  ATTO_REQUIRE_CUDA();
  struct Size { int64_t rows, C; };
  // C = 1025 and 4097: a block per row; 2100 rows: several row chunks in the dweight/dbias sums.
  const std::vector<Size> sizes = {{1, 1}, {37, 1}, {37, 37}, {5, 1025}, {3, 4097}, {2100, 37}};
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = dt == kFloat64 ? Tol{1e-10, 1e-12} : Tol{1e-5, 1e-5};
    for (const Size& s : sizes) {
      CAPTURE(dt);
      CAPTURE(s.rows);
      CAPTURE(s.C);
      Tensor x = uniform({s.rows, s.C}, -2.0, 3.0, 400 + uint64_t(s.C), dt);
      Tensor w = uniform({s.C}, 0.5, 1.5, 401, dt), b = uniform({s.C}, -1.0, 1.0, 402, dt);
      check_against_cpu({{x}, {w}, {b}},
                        [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {s.C}, in[1], in[2]); }, tol);
      check_against_cpu(x, [&](const Tensor& t) { return layer_norm(t, {s.C}); }, tol);
      check_against_cpu({{x}, {w}}, [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {s.C}, in[1]); },
                        tol);
      check_against_cpu({{x}, {b}},
                        [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {s.C}, {}, in[1], 1e-1); },
                        tol);
      // only the weight and bias gradients (dx not computed)
      check_against_cpu({{x, false}, {w}, {b}},
                        [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {s.C}, in[1], in[2]); }, tol);
      // only dx
      check_against_cpu({{x}, {w, false}, {b, false}},
                        [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {s.C}, in[1], in[2]); }, tol);
    }
    // normalised over two dims; a non-contiguous input
    Tensor x3 = uniform({4, 3, 37}, -2.0, 2.0, 410, dt);
    Tensor w2 = uniform({3, 37}, 0.5, 1.5, 411, dt), b2 = uniform({3, 37}, -1.0, 1.0, 412, dt);
    check_against_cpu({{x3}, {w2}, {b2}},
                      [](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 37}, in[1], in[2]); }, tol);
    Tensor w4 = uniform({4}, 0.5, 1.5, 413, dt), b4 = uniform({4}, -1.0, 1.0, 414, dt);
    check_against_cpu(
        {{x3}, {w4}, {b4}},
        [](const std::vector<Tensor>& in) { return layer_norm(in[0].transpose(0, 2), {4}, in[1], in[2]); }, tol);
  }
}

// NOTE [ Deterministic reductions ] (cuda/launch.cuh): the same input gives the same bits every run.
TEST_CASE("cuda: softmax and layer_norm are bitwise identical run to run") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({4096, 256}, -3.0, 3.0, 500, kFloat32).to(kCUDA);
  Tensor dy = uniform({4096, 256}, -1.0, 1.0, 501, kFloat32).to(kCUDA);
  Tensor w0 = uniform({256}, 0.5, 1.5, 502, kFloat32).to(kCUDA), b0 = uniform({256}, -1.0, 1.0, 503, kFloat32).to(kCUDA);
  Tensor long_rows = uniform({8, 5000}, -3.0, 3.0, 504, kFloat32).to(kCUDA);
  auto run = [&] {
    Tensor xx = x.detach().requires_grad_(), w = w0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    Tensor y = layer_norm(xx, {256}, w, b);
    y.backward(dy);
    Tensor xs = x.detach().requires_grad_();
    Tensor s = softmax(xs, 1);
    s.backward(dy);
    Tensor xl = x.detach().requires_grad_();
    Tensor l = log_softmax(xl, 0);
    l.backward(dy);
    return std::vector<Tensor>{y, xx.grad(), w.grad(), b.grad(), s, xs.grad(), l, xl.grad(), softmax(long_rows, 1)};
  };
  std::vector<Tensor> one = run(), two = run();
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(one[i], two[i]));
  }
}

}  // TEST_SUITE("cuda")
