// tests/ops/test_softmax.cpp -- softmax and log_softmax: values against PyTorch
// (tools/gen_ref_softmax.py) on every dim, stability, masked (-inf) entries, gradcheck,
// non-contiguous input, thread-count independence, errors.
#include <cmath>

#include "reference/softmax.h"
#include "test_util.h"

using namespace atto;
namespace S = ref::softmax;

namespace {

// Shape and values against a reference; infinite reference values (log_softmax at -inf) must match exactly.
void check_ref(const Tensor& y, const RefTensor& r, double rtol, double atol) {
  CHECK_MESSAGE(y.shape() == Shape(r.shape), fmt::format("shape {} vs reference {}", y.shape(), Shape(r.shape)));
  std::vector<double> got = y.to_vector<double>(), want = r.values;
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i)
    if (std::isinf(want[i])) {
      CHECK_MESSAGE(got[i] == want[i], fmt::format("element {}: got {} expected {}", i, got[i], want[i]));
      got[i] = want[i] = 0;
    }
  CHECK_ALLCLOSE(from_vector<double>(got), want, rtol, atol);
}

struct DimCase {
  int64_t dim;
  const RefTensor &sm64, &sm32, &lsm64, &lsm32;
};

}  // namespace

TEST_CASE("softmax and log_softmax match PyTorch on every dim in float64 and float32") {
  const std::vector<DimCase> cases = {
      {0, S::softmax_d0_f64, S::softmax_d0_f32, S::log_softmax_d0_f64, S::log_softmax_d0_f32},
      {1, S::softmax_d1_f64, S::softmax_d1_f32, S::log_softmax_d1_f64, S::log_softmax_d1_f32},
      {2, S::softmax_d2_f64, S::softmax_d2_f32, S::log_softmax_d2_f64, S::log_softmax_d2_f32},
      {-1, S::softmax_dm1_f64, S::softmax_dm1_f32, S::log_softmax_dm1_f64, S::log_softmax_dm1_f32},
  };
  Tensor x64 = S::x.tensor(kFloat64), x32 = S::x.tensor(kFloat32);
  for (const DimCase& c : cases) {
    CAPTURE(c.dim);
    check_ref(softmax(x64, c.dim), c.sm64, 1e-12, 1e-14);
    check_ref(log_softmax(x64, c.dim), c.lsm64, 1e-12, 1e-14);
    check_ref(x32.softmax(c.dim), c.sm32, 1e-5, 1e-7);
    check_ref(x32.log_softmax(c.dim), c.lsm32, 1e-5, 1e-6);
    CHECK(softmax(x32, c.dim).dtype() == kFloat32);
  }
}

TEST_CASE("softmax of a non-contiguous view matches PyTorch") {
  Tensor xp = S::x.tensor().permute({2, 0, 1});
  REQUIRE_FALSE(xp.is_contiguous());
  check_ref(softmax(xp, 0), S::softmax_nc_d0, 1e-12, 1e-14);
  check_ref(softmax(xp, -1), S::softmax_nc_dm1, 1e-12, 1e-14);
  check_ref(log_softmax(xp, 0), S::log_softmax_nc_d0, 1e-12, 1e-14);
  check_ref(log_softmax(xp, -1), S::log_softmax_nc_dm1, 1e-12, 1e-14);
}

TEST_CASE("softmax is stable for large inputs and gives 0 at -inf entries") {
  for (DType dt : {kFloat64, kFloat32}) {
    CAPTURE(dt);
    check_ref(softmax(S::big.tensor(dt), 1), S::softmax_big, 1e-6, 1e-7);
    check_ref(log_softmax(S::big.tensor(dt), 1), S::log_softmax_big, 1e-6, 1e-6);
    check_ref(softmax(S::masked.tensor(dt), 1), S::softmax_masked, 1e-6, 1e-7);
    check_ref(log_softmax(S::masked.tensor(dt), 1), S::log_softmax_masked, 1e-6, 1e-6);
  }
}

TEST_CASE("softmax rows of every length find their maximum wherever it is and give NaN rows for a NaN") {
  // Rows of 32 or more entries take their maximum in 16 running lanes: the maximum may sit in any
  // lane or in the tail, and a NaN anywhere must still make the whole row NaN (as PyTorch).
  for (int64_t n : {1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 100, 129}) {
    for (int64_t at : {int64_t(0), n / 2, n - 1}) {
      CAPTURE(n);
      CAPTURE(at);
      std::vector<double> row(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) row[j] = -40.0 + 0.37 * double((j * 7) % 23);
      row[at] = 60.0;   // exp(x - 0) overflows in float: only the true maximum keeps the row finite
      std::vector<double> want(row.size());
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += want[j] = std::exp(row[j] - 60.0);
      for (double& w : want) w /= sum;
      Tensor x = from_vector<double>(row).to(kFloat32);
      CHECK_ALLCLOSE(softmax(x, 0), want, 1e-6, 1e-7);
      CHECK_ALLCLOSE(log_softmax(x, 0), log(from_vector<double>(want)), 1e-5, 1e-6);
      row[at] = NAN;
      for (Tensor y : {softmax(from_vector<double>(row).to(kFloat32), 0),
                       log_softmax(from_vector<double>(row).to(kFloat32), 0), softmax(from_vector<double>(row), 0)})
        for (double v : y.to_vector<double>()) CHECK(std::isnan(v));
    }
  }
  // The causal rows see 1 .. 40 keys: the last row's maximum is its last visible entry.
  Tensor scores = testing::uniform({40, 40}, -1, 1, 3);
  Tensor boosted = add(scores, mul(eye(40, {}, {.dtype = kFloat64}), 50.0)).to(kFloat32);
  Tensor w = causal_softmax(boosted);
  CHECK_ALLCLOSE(w, causal_softmax(boosted.to(kFloat64)), 1e-6, 1e-7);
}

TEST_CASE("softmax and log_softmax pass gradcheck on every dim") {
  Tensor x = testing::uniform({3, 4, 5}, -3.0, 3.0, 31);
  for (int64_t dim : {0, 1, 2, -1, -2}) {
    CAPTURE(dim);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x});
  }
  // A non-contiguous input.
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0].transpose(0, 2), 1); }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0].slice(2, 0, 5, 2), -1); }, {x});
  // A 1-d input.
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); },
                  {testing::uniform({7}, -3.0, 3.0, 32)});
}

TEST_CASE("softmax of a 0-d tensor is 1") {
  CHECK(softmax(scalar_tensor(3.0), 0).item<double>() == 1.0);
  CHECK(log_softmax(scalar_tensor(3.0), -1).item<double>() == 0.0);
}

TEST_CASE("softmax is bitwise identical for 1 and 2 threads") {
  const int saved = get_num_threads();
  Tensor x = testing::uniform({512, 1000}, -5.0, 5.0, 33, kFloat32);
  Tensor dy = testing::uniform({512, 1000}, -1.0, 1.0, 34, kFloat32);
  auto run = [&] {
    std::vector<Tensor> out;
    for (int64_t dim : {1, 0}) {
      Tensor a = x.detach().requires_grad_(), b = x.detach().requires_grad_();
      Tensor ys = softmax(a, dim), yl = log_softmax(b, dim);
      ys.backward(dy);
      yl.backward(dy);
      out.insert(out.end(), {ys, yl, a.grad(), b.grad()});
    }
    return out;
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(one[i].to_vector<float>() == two[i].to_vector<float>());
  }
}

TEST_CASE("softmax rejects bad input with messages naming the op") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("[softmax] dim 2 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("[log_softmax] dim -3 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(softmax(zeros({3}, {.dtype = kInt64}), 0),
                       doctest::Contains("[softmax] expects a floating tensor"), atto::Error);
}

// ---- causal_softmax -----------------------------------------------------------------------------------

using atto::testing::uniform;

TEST_CASE("causal_softmax equals softmax of the -inf-filled scores, bit for bit, forward and backward") {
  // L < S, L == S and L > S (rows past S see every key), float32 and float64, with a batch of heads.
  for (auto [L, S] : {std::pair<int64_t, int64_t>{5, 9}, {37, 37}, {9, 4}})
    for (DType dtype : {kFloat32, kFloat64}) {
      CAPTURE(L);
      CAPTURE(S);
      CAPTURE(dtype);
      Tensor x0 = uniform({3, 2, L, S}, -4, 4, 7, dtype), dy = uniform({3, 2, L, S}, -1, 1, 8, dtype);
      Tensor hidden = gt(arange(double(S)), arange(double(L)).unsqueeze(1));   // (L, S): key j > query i
      Tensor a = x0.detach().requires_grad_(), b = x0.detach().requires_grad_();
      Tensor ya = causal_softmax(a), yb = softmax(masked_fill(b, hidden, -INFINITY), -1);
      (ya * dy).sum().backward();
      (yb * dy).sum().backward();
      CHECK(ya.to_vector<double>() == yb.to_vector<double>());
      CHECK(a.grad().to_vector<double>() == b.grad().to_vector<double>());
      CHECK(std::string(ya.grad_fn()->name()) == "CausalSoftmaxBackward");
    }
}

TEST_CASE("causal_softmax passes gradcheck and rejects a 1-d input") {
  Tensor x = uniform({2, 6, 8}, -2, 2, 9).requires_grad_();
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return causal_softmax(in[0]); }, {x});
  CHECK_THROWS_WITH_AS(causal_softmax(zeros({4})),
                       doctest::Contains("[causal_softmax] expected scores (..., L, S) with at least 2 dims, got [4]"),
                       atto::Error);
}
