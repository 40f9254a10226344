// tests/ops/test_reduce.cpp -- reductions: sum, mean, var, std, max/min, argmax/argmin, logsumexp,
// norm. Forward values against PyTorch (tools/gen_ref_reduce.py), gradcheck, ties, non-contiguous
// inputs, thread-count independence, errors.
#include <cmath>
#include <functional>
#include <numeric>

#include "reference/reduce.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::reduce;

namespace {

// Shape and values against a reference.
void check_ref(const Tensor& y, const RefTensor& r, double rtol, double atol) {
  CHECK_MESSAGE(y.shape() == Shape(r.shape), fmt::format("shape {} vs reference {}", y.shape(), Shape(r.shape)));
  CHECK_ALLCLOSE(y, r.values, rtol, atol);
}

struct Case {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  const RefTensor &f64, &f32, &nc;
};

// The same cases as tools/gen_ref_reduce.py.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"sum_all", [](const Tensor& t) { return sum(t); }, R::sum_all_f64, R::sum_all_f32, R::sum_all_nc},
      {"sum_d1", [](const Tensor& t) { return sum(t, {1}); }, R::sum_d1_f64, R::sum_d1_f32, R::sum_d1_nc},
      {"sum_d02_keep", [](const Tensor& t) { return sum(t, {0, 2}, true); }, R::sum_d02_keep_f64, R::sum_d02_keep_f32,
       R::sum_d02_keep_nc},
      {"mean_all", [](const Tensor& t) { return mean(t); }, R::mean_all_f64, R::mean_all_f32, R::mean_all_nc},
      {"mean_dm1_keep", [](const Tensor& t) { return mean(t, {-1}, true); }, R::mean_dm1_keep_f64,
       R::mean_dm1_keep_f32, R::mean_dm1_keep_nc},
      {"var_all", [](const Tensor& t) { return var(t); }, R::var_all_f64, R::var_all_f32, R::var_all_nc},
      {"var_d1", [](const Tensor& t) { return var(t, {1}); }, R::var_d1_f64, R::var_d1_f32, R::var_d1_nc},
      {"var_d02_biased_keep", [](const Tensor& t) { return var(t, {0, 2}, false, true); }, R::var_d02_biased_keep_f64,
       R::var_d02_biased_keep_f32, R::var_d02_biased_keep_nc},
      {"std_all", [](const Tensor& t) { return atto::std(t); }, R::std_all_f64, R::std_all_f32, R::std_all_nc},
      {"std_dm1", [](const Tensor& t) { return atto::std(t, {-1}); }, R::std_dm1_f64, R::std_dm1_f32, R::std_dm1_nc},
      {"std_d01_biased_keep", [](const Tensor& t) { return atto::std(t, {0, 1}, false, true); },
       R::std_d01_biased_keep_f64, R::std_d01_biased_keep_f32, R::std_d01_biased_keep_nc},
      {"max_all", [](const Tensor& t) { return max(t); }, R::max_all_f64, R::max_all_f32, R::max_all_nc},
      {"min_all", [](const Tensor& t) { return min(t); }, R::min_all_f64, R::min_all_f32, R::min_all_nc},
      {"max_d1_values", [](const Tensor& t) { return max(t, 1).values; }, R::max_d1_values_f64, R::max_d1_values_f32,
       R::max_d1_values_nc},
      {"max_d1_indices", [](const Tensor& t) { return max(t, 1).indices; }, R::max_d1_indices_f64,
       R::max_d1_indices_f32, R::max_d1_indices_nc},
      {"min_dm1_keep_values", [](const Tensor& t) { return min(t, -1, true).values; }, R::min_dm1_keep_values_f64,
       R::min_dm1_keep_values_f32, R::min_dm1_keep_values_nc},
      {"min_dm1_keep_indices", [](const Tensor& t) { return min(t, -1, true).indices; }, R::min_dm1_keep_indices_f64,
       R::min_dm1_keep_indices_f32, R::min_dm1_keep_indices_nc},
      {"argmax_all", [](const Tensor& t) { return argmax(t); }, R::argmax_all_f64, R::argmax_all_f32,
       R::argmax_all_nc},
      {"argmax_all_keep", [](const Tensor& t) { return argmax(t, {}, true); }, R::argmax_all_keep_f64,
       R::argmax_all_keep_f32, R::argmax_all_keep_nc},
      {"argmax_d2", [](const Tensor& t) { return t.argmax(2); }, R::argmax_d2_f64, R::argmax_d2_f32, R::argmax_d2_nc},
      {"argmin_d0_keep", [](const Tensor& t) { return argmin(t, 0, true); }, R::argmin_d0_keep_f64,
       R::argmin_d0_keep_f32, R::argmin_d0_keep_nc},
      {"argmin_all", [](const Tensor& t) { return argmin(t); }, R::argmin_all_f64, R::argmin_all_f32,
       R::argmin_all_nc},
      {"logsumexp_all", [](const Tensor& t) { return logsumexp(t); }, R::logsumexp_all_f64, R::logsumexp_all_f32,
       R::logsumexp_all_nc},
      {"logsumexp_d1", [](const Tensor& t) { return logsumexp(t, {1}); }, R::logsumexp_d1_f64, R::logsumexp_d1_f32,
       R::logsumexp_d1_nc},
      {"logsumexp_d02_keep", [](const Tensor& t) { return logsumexp(t, {0, 2}, true); }, R::logsumexp_d02_keep_f64,
       R::logsumexp_d02_keep_f32, R::logsumexp_d02_keep_nc},
      {"norm2_all", [](const Tensor& t) { return norm(t); }, R::norm2_all_f64, R::norm2_all_f32, R::norm2_all_nc},
      {"norm1_d1", [](const Tensor& t) { return norm(t, 1, {1}); }, R::norm1_d1_f64, R::norm1_d1_f32, R::norm1_d1_nc},
      {"norm3_dm1_keep", [](const Tensor& t) { return norm(t, 3, {-1}, true); }, R::norm3_dm1_keep_f64,
       R::norm3_dm1_keep_f32, R::norm3_dm1_keep_nc},
      {"norminf_d02", [](const Tensor& t) { return norm(t, INFINITY, {0, 2}); }, R::norminf_d02_f64,
       R::norminf_d02_f32, R::norminf_d02_nc},
      {"normhalf_d2", [](const Tensor& t) { return norm(t, 0.5, {2}); }, R::normhalf_d2_f64, R::normhalf_d2_f32,
       R::normhalf_d2_nc},
  };
  return c;
}

bool is_index_case(const Case& c) {
  std::string n = c.name;
  return n.find("arg") != std::string::npos || n.find("indices") != std::string::npos;
}

}  // namespace

TEST_CASE("reductions match PyTorch in float64 and float32") {
  Tensor x64 = R::x.tensor(kFloat64), x32 = R::x.tensor(kFloat32);
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    Tensor y64 = c.fn(x64), y32 = c.fn(x32);
    if (is_index_case(c)) {
      CHECK(y64.dtype() == kInt64);
      CHECK(y32.dtype() == kInt64);
    } else {
      CHECK(y64.dtype() == kFloat64);
      CHECK(y32.dtype() == kFloat32);
    }
    check_ref(y64, c.f64, 1e-12, 1e-12);
    check_ref(y32, c.f32, 1e-5, 1e-6);
  }
}

TEST_CASE("reductions of a non-contiguous view match PyTorch") {
  Tensor xp = R::x.tensor(kFloat64).permute({2, 0, 1});
  REQUIRE_FALSE(xp.is_contiguous());
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    check_ref(c.fn(xp), c.nc, 1e-12, 1e-12);
  }
}

TEST_CASE("reductions pass gradcheck over several dims and keepdim") {
  Tensor x = testing::uniform({3, 4, 5}, -2.0, 2.0, 11);
  using V = std::vector<int64_t>;
  const std::vector<std::pair<V, bool>> configs = {{{}, false}, {{1}, false}, {{-1}, true}, {{0, 2}, true},
                                                   {{2, 0}, false}, {{0, 1, 2}, true}};
  for (auto [dims, keep] : configs) {
    CAPTURE(dims);
    CAPTURE(keep);
    auto d = dims;
    bool k = keep;
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return sum(in[0], d, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return mean(in[0], d, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return var(in[0], d, true, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return var(in[0], d, false, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return atto::std(in[0], d, true, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return atto::std(in[0], d, false, k); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return logsumexp(in[0], d, k); }, {x});
    for (double p : {1.0, 2.0, 3.0, 0.5, 1.5, double(INFINITY)}) {
      CAPTURE(p);
      // Away from kinks: |x| >= 0.05 for p = 1 and p < 1; distinct |x| (uniform draws) for inf.
      Tensor xn = testing::uniform({3, 4, 5}, -2.0, 2.0, 12, kFloat64, {0.0});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return norm(in[0], p, d, k); }, {xn});
    }
  }
}

TEST_CASE("max and min pass gradcheck with and without a dim") {
  Tensor x = testing::uniform({3, 4, 5}, -2.0, 2.0, 13);   // distinct values: no ties
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return max(in[0]); }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return min(in[0]); }, {x});
  for (int64_t dim : {0, 1, 2, -1, -3})
    for (bool keep : {false, true}) {
      CAPTURE(dim);
      CAPTURE(keep);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return max(in[0], dim, keep).values; }, {x});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return min(in[0], dim, keep).values; }, {x});
    }
}

TEST_CASE("reductions of a non-contiguous input pass gradcheck") {
  Tensor x = testing::uniform({5, 3, 4}, -2.0, 2.0, 14);
  auto t = [](const Tensor& v) { return v.transpose(0, 2).slice(1, 0, 3, 2); };   // [4, 2, 5], strided
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return var(t(in[0]), {0, 2}); }, {x});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return logsumexp(t(in[0]), {1}, true); }, {x});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return norm(t(in[0]), 2, {0}); }, {x});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return max(t(in[0]), 2).values; }, {x});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return min(t(in[0])); }, {x});
}

// Gradient of sum(y * w) for w = 1, 2, 3, ... over y's elements (as the generator does).
static Tensor weighted_grad(const Tensor& x0, const std::function<Tensor(const Tensor&)>& fn) {
  Tensor x = x0.clone().requires_grad_();
  Tensor y = fn(x);
  std::vector<double> w(size_t(y.numel()));
  std::iota(w.begin(), w.end(), 1.0);
  sum(y * from_vector<double>(w, y.shape())).backward();
  return x.grad();
}

TEST_CASE("ties follow PyTorch: shared gradient for full max and inf-norm and first index along a dim") {
  Tensor ties = R::ties.tensor();
  check_ref(weighted_grad(ties, [](const Tensor& t) { return max(t); }), R::ties_max_all_grad, 0, 1e-15);
  check_ref(weighted_grad(ties, [](const Tensor& t) { return min(t); }), R::ties_min_all_grad, 0, 1e-15);
  check_ref(weighted_grad(ties, [](const Tensor& t) { return max(t, 1).values; }), R::ties_max_d1_grad, 0, 1e-15);
  check_ref(weighted_grad(ties, [](const Tensor& t) { return max(t, 0).values; }), R::ties_max_d0_grad, 0, 1e-15);
  check_ref(weighted_grad(ties, [](const Tensor& t) { return norm(t, INFINITY, {1}); }), R::ties_norminf_d1_grad, 0,
            1e-15);
  check_ref(weighted_grad(ties, [](const Tensor& t) { return norm(t, INFINITY); }), R::ties_norminf_all_grad, 0,
            1e-15);
  check_ref(max(ties, 1).indices, R::ties_max_d1_indices, 0, 0);
  check_ref(max(ties, 0).indices, R::ties_max_d0_indices, 0, 0);
  check_ref(argmax(ties, 1), R::ties_argmax_d1, 0, 0);
  check_ref(argmin(ties, 0), R::ties_argmin_d0, 0, 0);
}

TEST_CASE("norm gradients at a zero row follow PyTorch") {
  Tensor z = R::zrow.tensor();
  const std::vector<std::tuple<double, const RefTensor*, const RefTensor*>> ps = {
      {2.0, &R::zrow_norm2_y, &R::zrow_norm2_grad},       {1.0, &R::zrow_norm1_y, &R::zrow_norm1_grad},
      {3.0, &R::zrow_norm3_y, &R::zrow_norm3_grad},       {0.5, &R::zrow_normhalf_y, &R::zrow_normhalf_grad},
      {1.5, &R::zrow_norm1p5_y, &R::zrow_norm1p5_grad}};
  for (auto [p, yref, gref] : ps) {
    CAPTURE(p);
    Tensor x = z.clone().requires_grad_();
    Tensor y = norm(x, p, {1});
    y.backward(tensor({1.5, -0.5}, {.dtype = kFloat64}));
    check_ref(y, *yref, 1e-12, 1e-12);
    check_ref(x.grad(), *gref, 1e-12, 1e-12);
  }
}

TEST_CASE("logsumexp is stable for large inputs") {
  check_ref(logsumexp(R::big.tensor(), {1}), R::logsumexp_big_d1, 1e-12, 1e-12);
  check_ref(logsumexp(R::big.tensor(kFloat32), {1}), R::logsumexp_big_d1, 1e-6, 1e-4);
  Tensor neg_inf = full({2, 3}, -INFINITY, {.dtype = kFloat64});
  Tensor y = logsumexp(neg_inf, {1});
  CHECK(std::isinf(y.at({0})));
  CHECK(y.at({0}) < 0);
}

TEST_CASE("max and argmax propagate NaN like PyTorch") {
  Tensor x = tensor({1.0, NAN, 3.0, NAN}, {.dtype = kFloat64});
  CHECK(std::isnan(max(x).item<double>()));
  CHECK(std::isnan(min(x).item<double>()));
  CHECK(argmax(x).item<int64_t>() == 1);
  CHECK(argmin(x).item<int64_t>() == 1);
}

TEST_CASE("max min and argmax work on int64 tensors") {
  Tensor x = R::ints.tensor(kInt64);
  check_ref(max(x), R::ints_max_all, 0, 0);
  check_ref(min(x), R::ints_min_all, 0, 0);
  ValuesIndices m = max(x, 1);
  CHECK(m.values.dtype() == kInt64);
  check_ref(m.values, R::ints_max_d1_values, 0, 0);
  check_ref(m.indices, R::ints_max_d1_indices, 0, 0);
  check_ref(argmin(x, 0), R::ints_argmin_d0, 0, 0);
}

TEST_CASE("reductions of 0-d tensors and single elements follow PyTorch") {
  Tensor s = scalar_tensor(2.5, {.dtype = kFloat64});
  CHECK(sum(s, {0}).item<double>() == 2.5);
  CHECK(logsumexp(s, {0}).item<double>() == 2.5);
  ValuesIndices m = max(s, 0);
  CHECK(m.values.item<double>() == 2.5);
  CHECK(m.indices.item<int64_t>() == 0);
  CHECK(std::isnan(var(tensor({1.0})).item<double>()));   // N - 1 = 0, as PyTorch
  CHECK(var(tensor({1.0}), {}, false).item<double>() == 0.0);
}

// NOTE [ Deterministic reductions ]: the same input gives bitwise the same result on 1 and 2 threads.
TEST_CASE("reductions are bitwise identical for 1 and 2 threads") {
  const int saved = get_num_threads();
  Tensor x = testing::uniform({1000000}, -1.0, 3.0, 21, kFloat32);
  Tensor xm = x.reshape({1000, 1000});
  auto run = [&] {
    Tensor xg = xm.detach().requires_grad_();
    Tensor lv = var(xg, {0});
    sum(lv).backward();
    return std::vector<Tensor>{sum(x), mean(x), var(x), atto::std(x), logsumexp(x), norm(x), norm(x, 3.0),
                               max(x), argmax(x), sum(xm, {0}), var(xm, {1}), logsumexp(xm, {0}), lv, xg.grad()};
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

TEST_CASE("reductions reject bad input with messages naming the op") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, {2}), doctest::Contains("[sum] dim 2 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(var(x, {-3}), doctest::Contains("[var]"), atto::Error);
  CHECK_THROWS_WITH_AS(atto::std(x, {5}), doctest::Contains("[std]"), atto::Error);
  CHECK_THROWS_WITH_AS(max(x, 2), doctest::Contains("[max]"), atto::Error);
  CHECK_THROWS_WITH_AS(min(x, -3), doctest::Contains("[min]"), atto::Error);
  CHECK_THROWS_WITH_AS(argmax(x, 2), doctest::Contains("[argmax]"), atto::Error);
  CHECK_THROWS_WITH_AS(argmin(x, 7), doctest::Contains("[argmin]"), atto::Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, {3}), doctest::Contains("[logsumexp]"), atto::Error);
  CHECK_THROWS_WITH_AS(norm(x, 2, {2}), doctest::Contains("[norm]"), atto::Error);
  CHECK_THROWS_WITH_AS(norm(x, -1.0), doctest::Contains("[norm] p must be positive"), atto::Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}), doctest::Contains("appears twice"), atto::Error);
  CHECK_THROWS_WITH_AS(max(zeros({0, 3})), doctest::Contains("[max] expects a non-empty tensor, got shape [0, 3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(argmax(zeros({3, 0}), 1), doctest::Contains("[argmax] cannot reduce over an empty dimension"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(var(zeros({3}, {.dtype = kInt64})), doctest::Contains("[var] expects a floating tensor"),
                       atto::Error);
}
