// tests/cuda/test_index.cpp -- the CUDA indexing kernels (cuda/index.cu) against the CPU ones
// (tensor/cpu/index.h): index_select, embedding, gather, scatter_add, one_hot, forward and backward,
// awkward sizes, repeated indices, non-contiguous views, run-to-run determinism, and out-of-range
// indices on CUDA tensors giving the CPU's error.
#include <functional>
#include <random>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

// n indices in [0, hi) from a fixed seed; `hot` of them (every third) all point at row hi / 2.
Tensor indices(int64_t n, int64_t hi, uint64_t seed, bool hot = false) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> u(0, hi - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (size_t j = 0; j < v.size(); ++j) v[j] = hot && j % 3 == 0 ? hi / 2 : u(rng);
  return from_vector<int64_t>(v);
}

struct Run {
  Tensor y, dx;   // the op's result and the gradient of sum(y * proj) wrt x, both on the CPU
};

// f(x) on `dev` with x a fresh leaf copy of x_host there (clone: to(kCPU) of a CPU tensor is the
// tensor itself, whose grad would accumulate); backward of sum(f(x) * proj).
Run run_on(Device dev, const Tensor& x_host, const Tensor& proj, const std::function<Tensor(const Tensor&)>& f) {
  Tensor x = x_host.clone().to(dev);
  x.requires_grad_(true);
  Tensor y = f(x);
  (y * proj.to(dev)).sum().backward();
  return {y.cpu(), x.grad().cpu()};
}

// Runs f on the CPU and on CUDA and compares value and gradient bit for bit: the values are copies,
// the upstream gradient is proj exactly, and the CUDA scatter kernels add in the CPU's order (NOTE
// [ Deterministic scatter on CUDA ] in cuda/index.h).
void check_same_as_cpu(const Tensor& x_host, const std::function<Tensor(const Tensor&)>& f, uint64_t seed) {
  Tensor y_shape = f(x_host);
  Tensor proj = uniform(y_shape.shape(), -1, 1, seed, x_host.dtype());
  Run cpu = run_on(kCPU, x_host, proj, f);
  Run gpu = run_on(kCUDA, x_host, proj, f);
  CHECK(gpu.y.to_vector<double>() == cpu.y.to_vector<double>());
  CHECK(gpu.dx.to_vector<double>() == cpu.dx.to_vector<double>());
}

// The message an op throws (empty if it does not).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

constexpr DType kFloats[] = {kFloat32, kFloat64};

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: index_select forward and backward match the CPU for awkward sizes") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      const std::string dtype{dtype_name(dt)};
      CAPTURE(dtype);
      Tensor i = indices(2 * n + 3, n, 1, /*hot=*/true);   // more indices than rows: repeats
      Tensor x = uniform({n, 5}, -1, 1, 2, dt);
      check_same_as_cpu(x, [&](const Tensor& t) { return index_select(t, 0, i.to(t.device())); }, 3);
      Tensor xw = uniform({3, n}, -1, 1, 4, dt);
      check_same_as_cpu(xw, [&](const Tensor& t) { return index_select(t, 1, i.to(t.device())); }, 5);
      // Non-contiguous x (a transpose) and a 3-d x indexed in the middle.
      check_same_as_cpu(xw, [&](const Tensor& t) { return index_select(t.t(), 0, i.to(t.device())); }, 6);
      Tensor x3 = uniform({2, n, 3}, -1, 1, 7, dt);
      check_same_as_cpu(x3, [&](const Tensor& t) { return index_select(t, 1, i.to(t.device())); }, 8);
    }
  // Every dtype goes forward (a copy).
  Tensor i = from_vector<int64_t>({2, 0, 2, 1});
  for (DType dt : {kInt64, kBool}) {
    Tensor x = arange(12.0).reshape({3, 4}).to(dt);
    Tensor cpu = index_select(x, 0, i), gpu = index_select(x.to(kCUDA), 0, i.to(kCUDA));
    CHECK(gpu.dtype() == dt);
    CHECK(gpu.cpu().to_vector<double>() == cpu.to_vector<double>());
  }
}

TEST_CASE("cuda: embedding with repeated indices and padding_idx matches the CPU bit for bit") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      Tensor i = indices(4 * 37, n, 9, /*hot=*/true).reshape({4, 37});
      Tensor w = uniform({n, 33}, -1, 1, 10, dt);
      for (std::optional<int64_t> pad : {std::optional<int64_t>{}, std::optional<int64_t>{n / 2}})
        check_same_as_cpu(w, [&](const Tensor& t) { return embedding(t, i.to(t.device()), pad); }, 11);
    }
}

TEST_CASE("cuda: embedding backward is bitwise identical run to run with many rows hitting one") {
  ATTO_REQUIRE_CUDA();
  const int64_t n = 7, d = 1025, k = 20000;
  std::vector<int64_t> iv(k);
  for (int64_t j = 0; j < k; ++j) iv[size_t(j)] = j % 2 ? 3 : (j * 7919 + j / 3) % n;   // half of them row 3
  Tensor i = from_vector<int64_t>(iv).to(kCUDA);
  Tensor proj = uniform({k, d}, -1, 1, 11, kFloat32).to(kCUDA);
  auto grad = [&] {
    Tensor w = uniform({n, d}, -1, 1, 12, kFloat32).to(kCUDA);
    w.requires_grad_(true);
    (embedding(w, i) * proj).sum().backward();
    return w.grad().to_vector<float>();
  };
  std::vector<float> g1 = grad(), g2 = grad();
  CHECK(g1 == g2);
  // And the same bits as the CPU, which adds in the same order.
  Tensor wc = uniform({n, d}, -1, 1, 12, kFloat32);
  wc.requires_grad_(true);
  (embedding(wc, i.cpu()) * proj.cpu()).sum().backward();
  CHECK(g1 == wc.grad().to_vector<float>());
}

TEST_CASE("cuda: gather forward and backward match the CPU including non-contiguous views") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      Tensor x = uniform({n, 7}, -1, 1, 20, dt);
      // Along dim 1: an index narrower than x outside dim (n - n/2 rows), repeats within a row.
      Tensor i1 = indices((n - n / 2) * 9, 7, 21).reshape({n - n / 2, 9});
      check_same_as_cpu(x, [&](const Tensor& t) { return gather(t, 1, i1.to(t.device())); }, 22);
      // Along dim 0: every column gathers 2n + 1 rows.
      Tensor i0 = indices((2 * n + 1) * 7, n, 23, /*hot=*/true).reshape({2 * n + 1, 7});
      check_same_as_cpu(x, [&](const Tensor& t) { return gather(t, 0, i0.to(t.device())); }, 24);
      // Transposed x and index.
      Tensor it = indices(7 * n, n, 25).reshape({7, n}).t();
      check_same_as_cpu(x, [&](const Tensor& t) { return gather(t.t().contiguous().t(), 0, it.to(t.device())); }, 26);
    }
  Tensor i = from_vector<int64_t>({1, 0, 2, 2}, Shape{2, 2});
  for (DType dt : {kInt64, kBool}) {
    Tensor x = arange(6.0).reshape({2, 3}).to(dt);
    CHECK(gather(x.to(kCUDA), 1, i.to(kCUDA)).cpu().to_vector<double>() == gather(x, 1, i).to_vector<double>());
  }
}

TEST_CASE("cuda: scatter_add forward and backward match the CPU with repeated destinations") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      Tensor x = uniform({n, 5}, -1, 1, 30, dt);
      Tensor src = uniform({3 * n + 2, 6}, -1, 1, 31, dt);   // larger than the index: the rest gets no gradient
      Tensor i0 = indices((3 * n + 1) * 5, n, 32, /*hot=*/true).reshape({3 * n + 1, 5});
      Tensor i1 = indices(n * 4, 5, 33).reshape({n, 4});
      for (int dim : {0, 1}) {
        Tensor i = dim == 0 ? i0 : i1;
        Tensor s = dim == 0 ? src : uniform({n, 6}, -1, 1, 34, dt);
        auto op = [&](const Tensor& a, const Tensor& b) { return scatter_add(a, dim, i.to(a.device()), b); };
        // Gradient in x, then in src (each through check_same_as_cpu, the other held fixed).
        check_same_as_cpu(x, [&](const Tensor& t) { return op(t, s.to(t.device())); }, 35);
        check_same_as_cpu(s, [&](const Tensor& t) { return op(x.to(t.device()), t); }, 36);
        // The values: the CUDA kernel adds along dim in the CPU's order.
        CHECK(op(x.to(kCUDA), s.to(kCUDA)).cpu().to_vector<double>() == op(x, s).to_vector<double>());
      }
      // A non-contiguous x and src.
      Tensor xt = uniform({5, n}, -1, 1, 37, dt).t(), st = uniform({6, n}, -1, 1, 38, dt).t();
      Tensor it = indices(n * 4, 5, 39).reshape({4, n}).t();
      CHECK_ALLCLOSE(scatter_add(xt.to(kCUDA), 1, it.to(kCUDA), st.to(kCUDA)), scatter_add(xt, 1, it, st), 1e-12,
                     1e-12);
    }
  Tensor xi = arange(6.0).reshape({2, 3}).to(kInt64), si = arange(10.0, 16.0).reshape({2, 3}).to(kInt64);
  Tensor i = from_vector<int64_t>({1, 1, 1, 0, 0, 2}, Shape{2, 3});
  CHECK(scatter_add(xi.to(kCUDA), 1, i.to(kCUDA), si.to(kCUDA)).cpu().to_vector<int64_t>() ==
        scatter_add(xi, 1, i, si).to_vector<int64_t>());
}

TEST_CASE("cuda: one_hot matches the CPU") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    Tensor i = indices(3 * n, n, 40).reshape({3, n});
    Tensor gpu = one_hot(i.to(kCUDA));
    CHECK(gpu.device().is_cuda());
    CHECK(gpu.shape() == Shape{3, n, n});
    CHECK(gpu.cpu().to_vector<int64_t>() == one_hot(i).to_vector<int64_t>());
    CHECK(one_hot(i.to(kCUDA), n + 5).cpu().to_vector<int64_t>() == one_hot(i, n + 5).to_vector<int64_t>());
  }
}

TEST_CASE("cuda: an out-of-range index on a CUDA tensor gives the CPU error naming the index and the size") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({4, 5}, -1, 1, 50, kFloat32);
  Tensor bad = from_vector<int64_t>({1, 7, 0}), neg = from_vector<int64_t>({-2});
  using Op = std::function<void(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<Op, const char*>> ops = {
      {[](const Tensor& t, const Tensor& i) { index_select(t, 0, i); }, "[index_select] index 7 is out of range"},
      {[](const Tensor& t, const Tensor& i) { embedding(t, i); }, "[embedding] index 7 is out of range for 4"},
      {[](const Tensor& t, const Tensor& i) { gather(t, 0, i.reshape({3, 1})); }, "[gather] index 7 is out of range"},
      {[](const Tensor& t, const Tensor& i) { scatter_add(t, 0, i.reshape({3, 1}), t); },
       "[scatter_add] index 7 is out of range"},
      {[](const Tensor&, const Tensor& i) { one_hot(i, 5); }, "[one_hot] class value 7 is out of range for 5"},
  };
  for (const auto& [op, expected] : ops) {
    CAPTURE(expected);
    const std::string cpu = error_of([&] { op(x, bad); });
    const std::string gpu = error_of([&] { op(x.to(kCUDA), bad.to(kCUDA)); });
    CHECK(cpu.find(expected) != std::string::npos);
    CHECK(gpu == cpu);
    CHECK(error_of([&] { op(x.to(kCUDA), neg.to(kCUDA)); }) == error_of([&] { op(x, neg); }));
  }
  // The device is still usable afterwards (no kernel ever saw the bad index).
  CHECK(index_select(x.to(kCUDA), 0, from_vector<int64_t>({3}).to(kCUDA)).cpu().to_vector<float>() ==
        index_select(x, 0, from_vector<int64_t>({3})).to_vector<float>());
}

}  // TEST_SUITE("cuda")
