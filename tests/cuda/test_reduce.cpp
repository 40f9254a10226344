// tests/cuda/test_reduce.cpp -- the reductions on the GPU (cuda/reduce.cu) against the CPU kernels
// (tensor/cpu/reduce.h): sum, mean, var, std, max/min, argmax/argmin, logsumexp, norm, forward and
// backward, on awkward row lengths, reduced dims other than the last, keepdim, non-contiguous views,
// float32/float64/int64, ties, NaN and inf rows, and run-to-run bitwise equality.
#include <cmath>
#include <vector>

#include "against_cpu.h"

using namespace atto;
using namespace atto::testing;

namespace {

// Values from {-2, -1, 0, 1, 2} in a fixed scramble: many ties, and |x| ties across signs.
Tensor ties(const Shape& shape, DType dt) {
  std::vector<double> v(size_t(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double((i * 7919 + i / 3) % 5) - 2.0;
  return from_vector<double>(v, shape).to(dt);
}

// Five rows of n: ordinary values; NaNs (the first at n/2); a +inf among them; all -inf; and a NaN
// first with -inf after it. For n = 1 each row is its own single special value.
Tensor special_rows(int64_t n, DType dt) {
  Tensor base = uniform({5, n}, -3.0, 3.0, 900 + uint64_t(n));
  std::vector<double> v = base.to_vector<double>();
  auto at = [&](int64_t r, int64_t j) -> double& { return v[size_t(r * n + j)]; };
  at(1, n / 2) = NAN;
  at(1, n - 1) = NAN;
  at(2, n / 3) = INFINITY;
  for (int64_t j = 0; j < n; ++j) at(3, j) = -INFINITY;
  for (int64_t j = 0; j < n; j += 2) at(4, j) = -INFINITY;
  at(4, 0) = NAN;
  return from_vector<double>(v, Shape{5, n}).to(dt);
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: sum and mean match the CPU over every dim with and without keepdim") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = uniform({3, n, 2}, -2.0, 2.0, 100 + uint64_t(n), dt);
      check_against_cpu(x, [](const Tensor& t) { return sum(t); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return sum(t, {1}); }, tol);          // rows of n, permuted
      check_against_cpu(x, [](const Tensor& t) { return sum(t, {-1}, true); }, tol);   // many rows of 2
      check_against_cpu(x, [](const Tensor& t) { return sum(t, {0}, true); }, tol);    // leading dim: column sums
      check_against_cpu(x, [](const Tensor& t) { return sum(t, {0, 1}); }, tol);       // leading dims: column sums
      check_against_cpu(x, [](const Tensor& t) { return sum(t, {0, 2}, true); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return mean(t); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return mean(t, {1}, true); }, tol);
      // non-contiguous views
      check_against_cpu(x, [](const Tensor& t) { return sum(t.transpose(0, 1), {0}); }, tol);
      check_against_cpu(x, [n](const Tensor& t) { return sum(t.slice(1, 0, n, 2), {1}); }, tol);
    }
  }
}

TEST_CASE("cuda: column sums over many rows match the CPU") {
  ATTO_REQUIRE_CUDA();
  // 5000 and 70000 rows: several chunks of rows in column_sums' first pass.
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dt);
    check_against_cpu(uniform({5000, 37}, -1.0, 1.0, 110, dt), [](const Tensor& t) { return sum(t, {0}); },
                      float_tol(dt));
    check_against_cpu(uniform({70000, 3}, -1.0, 1.0, 111, dt), [](const Tensor& t) { return sum(t, {0}); },
                      float_tol(dt));
    check_against_cpu(uniform({1025, 2, 33}, -1.0, 1.0, 112, dt),
                      [](const Tensor& t) { return sum(t, {0, 1}, true); }, float_tol(dt));
  }
}

TEST_CASE("cuda: int64 sums are exact") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kReduceSizes) {
    CAPTURE(n);
    Tensor x = uniform({3, n, 2}, -1000.0, 1000.0, 120 + uint64_t(n)).to(kInt64);
    check_against_cpu(x, [](const Tensor& t) { return sum(t); }, kExact);
    check_against_cpu(x, [](const Tensor& t) { return sum(t, {1}); }, kExact);
    check_against_cpu(x, [](const Tensor& t) { return sum(t, {0}); }, kExact);
    check_against_cpu(x, [](const Tensor& t) { return sum(t, {0, 2}, true); }, kExact);
  }
}

TEST_CASE("cuda: var and std match the CPU biased and unbiased") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = uniform({3, n, 2}, -2.0, 4.0, 130 + uint64_t(n), dt);
      check_against_cpu(x, [](const Tensor& t) { return var(t); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return var(t, {1}); }, tol);   // n = 1: 0/0 = NaN, as the CPU
      check_against_cpu(x, [](const Tensor& t) { return var(t, {1}, false, true); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return atto::std(t, {0, 2}); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return atto::std(t, {1}, false, true); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return atto::std(t.transpose(0, 2), {-1}); }, tol);
    }
  }
  // std of a constant row: 0, and a 0 gradient there (not 0/0).
  check_against_cpu(full({4, 37}, 1.5, {.dtype = kFloat64}), [](const Tensor& t) { return atto::std(t, {1}); },
                    kExact);
}

TEST_CASE("cuda: max min argmax argmin equal the CPU bitwise and keep the first index of ties") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64, kInt64}) {
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = ties({3, n, 2}, dt);
      check_against_cpu(x, [](const Tensor& t) { return max(t); }, kExact);   // backward shares among ties
      check_against_cpu(x, [](const Tensor& t) { return min(t); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return max(t, 1).values; }, kExact);   // backward: scatter
      check_against_cpu(x, [](const Tensor& t) { return max(t, 1).indices; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return min(t, 0, true).values; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return min(t, -1, true).indices; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmax(t); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmax(t, 1); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmin(t, {}, true); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmin(t.transpose(0, 1), 0); }, kExact);
    }
  }
  // The first of the tied maxima is the one a block-wide tree must find: at the very end of a long row.
  std::vector<double> v(4097, 0.0);
  v[4000] = v[4096] = 1.0;
  Tensor x = from_vector<double>(v).to(kCUDA);
  CHECK(argmax(x).item<int64_t>() == 4000);
  CHECK(argmin(x).item<int64_t>() == 0);
}

TEST_CASE("cuda: max min argmax logsumexp and the inf-norm treat NaN and inf rows as the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = special_rows(n, dt);
      check_against_cpu(x, [](const Tensor& t) { return max(t, 1).values; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return max(t, 1).indices; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return min(t, 1).indices; }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmax(t, 1, true); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return argmin(t); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return max(t); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return norm(t, INFINITY, {1}); }, kExact);
      check_against_cpu(x, [](const Tensor& t) { return logsumexp(t, {1}); }, float_tol(dt));
    }
  }
  // The CPU's answers, checked directly: the first NaN's index, -inf for an all -inf row.
  Tensor x = special_rows(37, kFloat32).to(kCUDA);
  CHECK(argmax(x, 1).cpu().to_vector<int64_t>()[1] == 18);
  CHECK(argmin(x, 1).cpu().to_vector<int64_t>()[4] == 0);
  const double lse_all_neg_inf = logsumexp(x, {1}).cpu().to_vector<double>()[3];
  CHECK((std::isinf(lse_all_neg_inf) && lse_all_neg_inf < 0));
}

TEST_CASE("cuda: logsumexp matches the CPU and stays finite for large inputs") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      Tensor x = uniform({3, n, 2}, -3.0, 3.0, 140 + uint64_t(n), dt);
      check_against_cpu(x, [](const Tensor& t) { return logsumexp(t, {1}); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return logsumexp(t, {0, 2}, true); }, tol);
      check_against_cpu(x, [](const Tensor& t) { return logsumexp(t); }, tol);
      check_against_cpu(uniform({2, n}, 500.0, 600.0, 150 + uint64_t(n), dt),
                        [](const Tensor& t) { return logsumexp(t, {1}); }, tol);
    }
  }
}

TEST_CASE("cuda: norm matches the CPU for p = 1 2 3 0.5 and inf and at zero rows") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    const Tol tol = float_tol(dt);
    for (int64_t n : kReduceSizes) {
      CAPTURE(dt);
      CAPTURE(n);
      // Row 0 all zero (the y == 0 branches of the backward), zeros scattered in row 1.
      std::vector<double> v = uniform({3, n}, -2.0, 2.0, 160 + uint64_t(n), kFloat64, {0.0}).to_vector<double>();
      for (int64_t j = 0; j < n; ++j) v[size_t(j)] = 0.0;
      for (int64_t j = 0; j < n; j += 3) v[size_t(n + j)] = 0.0;
      Tensor x = from_vector<double>(v, Shape{3, n}).to(dt);
      for (double p : {1.0, 2.0, 3.0, 0.5}) {
        CAPTURE(p);
        check_against_cpu(x, [p](const Tensor& t) { return norm(t, p, {1}); }, tol);
        check_against_cpu(x, [p](const Tensor& t) { return norm(t, p, {0}, true); }, tol);
        check_against_cpu(x, [p](const Tensor& t) { return norm(t, p); }, tol);
      }
      // inf-norm: |x| ties across signs share the gradient with sgn(x)
      check_against_cpu(ties({3, n}, dt), [](const Tensor& t) { return norm(t, INFINITY, {1}); }, kExact);
      check_against_cpu(ties({3, n}, dt), [](const Tensor& t) { return norm(t, INFINITY); }, kExact);
    }
  }
}

// NOTE [ Deterministic reductions ] (cuda/launch.cuh): the same input gives the same bits every run.
TEST_CASE("cuda: reductions are bitwise identical run to run") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({1000000}, -1.0, 3.0, 170, kFloat32).to(kCUDA);
  Tensor xm = x.reshape({1000, 1000});
  Tensor tall = uniform({70000, 37}, -1.0, 1.0, 171, kFloat32).to(kCUDA);
  auto run = [&] {
    Tensor xg = xm.detach().requires_grad_();
    Tensor lv = var(xg, {0});
    sum(lv).backward();
    return std::vector<Tensor>{sum(x),           mean(x),      var(x),           atto::std(x),
                               logsumexp(x),     norm(x),      norm(x, 3.0),     sum(xm, {0}),
                               sum(xm, {1}),     var(xm, {1}), logsumexp(xm, {0}), sum(tall, {0}),
                               sum(tall, {1}),   lv,           xg.grad()};
  };
  std::vector<Tensor> one = run(), two = run();
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(one[i], two[i]));
  }
  // and they agree with the CPU's
  CHECK_ALLCLOSE(sum(x), sum(x.cpu()), 1e-5, 1e-6);
  CHECK_ALLCLOSE(sum(tall, {0}), sum(tall.cpu(), {0}), 1e-5, 1e-6);
}

}  // TEST_SUITE("cuda")
