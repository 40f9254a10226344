// tests/ops/test_elementwise_more.cpp -- the rest of the elementwise family: comparisons and logic,
// where/masked_fill, type promotion, the in-place ops, thread-count determinism, and that saved
// outputs do not keep graphs alive. Twin of test_elementwise.cpp (the unary/binary op tables).
#include <memory>

#include "reference/elementwise.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::elementwise;

namespace {
constexpr double kRtol64 = 1e-10, kAtol64 = 1e-12;

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return a.to_vector<double>() == b.to_vector<double>();
}
}  // namespace

// ---- comparisons and logic ----------------------------------------------------------------------------------

TEST_CASE("comparisons broadcast and return bool tensors matching PyTorch") {
  Tensor a = R::cmp_a.tensor(), b = R::cmp_b.tensor();
  struct Cmp { const char* name; Tensor fn, op, fn_s, op_s, rev_s; const RefTensor &ref, &ref_s; };
  // rev_s is the scalar on the left: 1.0 < a is a > 1.0, so it matches the mirrored op's reference.
  const Cmp cases[] = {
      {"eq", eq(a, b), a == b, eq(a, 1.0), a == 1.0, 1.0 == a, R::cmp_eq, R::cmp_eq_s},
      {"ne", ne(a, b), a != b, ne(a, 1.0), a != 1.0, 1.0 != a, R::cmp_ne, R::cmp_ne_s},
      {"lt", lt(a, b), a < b, lt(a, 1.0), a < 1.0, 1.0 > a, R::cmp_lt, R::cmp_lt_s},
      {"le", le(a, b), a <= b, le(a, 1.0), a <= 1.0, 1.0 >= a, R::cmp_le, R::cmp_le_s},
      {"gt", gt(a, b), a > b, gt(a, 1.0), a > 1.0, 1.0 < a, R::cmp_gt, R::cmp_gt_s},
      {"ge", ge(a, b), a >= b, ge(a, 1.0), a >= 1.0, 1.0 <= a, R::cmp_ge, R::cmp_ge_s},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    for (const Tensor& t : {c.fn, c.op}) {
      CHECK(t.dtype() == kBool);
      CHECK(t.shape() == Shape(c.ref.shape));
      CHECK_ALLCLOSE(t, c.ref.values, 0.0, 0.0);
    }
    for (const Tensor& t : {c.fn_s, c.op_s, c.rev_s}) {
      CHECK(t.dtype() == kBool);
      CHECK_ALLCLOSE(t, c.ref_s.values, 0.0, 0.0);
    }
  }
  // Mixed dtypes and non-contiguous operands compare in the promoted dtype.
  CHECK_ALLCLOSE(lt(a.t().contiguous().t().to(kFloat32), b.to(kInt64)), R::cmp_lt.values, 0.0, 0.0);
  CHECK_THROWS_WITH_AS(lt(ones({2, 3}), ones({4, 3})), doctest::Contains("[lt]"), atto::Error);
}

TEST_CASE("comparisons produce no gradient and work on inputs that require grad") {
  Tensor x = tensor({1.0, 2.0}, {.requires_grad = true});
  Tensor m = x > 1.5;
  CHECK_FALSE(m.requires_grad());
  CHECK(m.to_vector<bool>() == std::vector<bool>{false, true});
}

TEST_CASE("logical_not logical_and logical_or") {
  Tensor a = R::cmp_a.tensor(), b = R::cmp_b.tensor();
  CHECK_ALLCLOSE(logical_and(a > 0.0, b < 1.0), R::cmp_and.values, 0.0, 0.0);
  CHECK_ALLCLOSE(logical_or(a > 0.0, b < 1.0), R::cmp_or.values, 0.0, 0.0);
  CHECK_ALLCLOSE(logical_not(a), R::cmp_not.values, 0.0, 0.0);
  CHECK(logical_not(a).dtype() == kBool);
  CHECK_THROWS_WITH_AS(logical_and(ones({2}, {.dtype = kBool}), ones({3}, {.dtype = kBool})),
                       doctest::Contains("[logical_and]"), atto::Error);
}

// ---- where / masked_fill ----------------------------------------------------------------------------------------

TEST_CASE("where broadcasts all three and differentiates in both branches") {
  Tensor cond = R::where_cond.tensor(kBool);
  Tensor a = R::where_a.tensor().requires_grad_(), b = R::where_b.tensor().requires_grad_();
  Tensor y = where(cond, a, b);
  CHECK(y.shape() == Shape(R::where_y.shape));
  CHECK_ALLCLOSE(y, R::where_y.values, kRtol64, kAtol64);
  y.backward(R::where_w.tensor());
  CHECK_ALLCLOSE(a.grad(), R::where_ga.values, kRtol64, kAtol64);
  CHECK_ALLCLOSE(b.grad(), R::where_gb.values, kRtol64, kAtol64);
  CHECK(std::string(y.grad_fn()->name()) == "WhereBackward");

  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                  {testing::uniform({4}, -2, 2, 1), testing::uniform({3, 1}, -2, 2, 2)});
  // Non-contiguous condition and operand.
  Tensor b_nc = R::where_b.tensor().expand({3, 4}).t().contiguous().t();
  Tensor y2 = where(cond.t().contiguous().t(), R::where_a.tensor(), b_nc);
  CHECK_ALLCLOSE(y2, R::where_y.values, kRtol64, kAtol64);
  // Scalar branches.
  Tensor a64 = R::where_a.tensor();
  CHECK(bitwise_equal(where(cond, a64, 0.0), where(cond, a64, zeros({1}, {.dtype = kFloat64}))));
  CHECK(bitwise_equal(where(cond, 2.0, a64), where(cond, full({1}, 2.0, {.dtype = kFloat64}), a64)));
  CHECK(where(cond, ones({4}), 0.0).dtype() == kFloat32);
  CHECK(where(cond, 1.0, ones({4}, {.dtype = kFloat64})).dtype() == kFloat64);

  CHECK_THROWS_WITH_AS(where(ones({3, 4}), a, b), doctest::Contains("[where]"), atto::Error);
  CHECK_THROWS_WITH_AS(where(cond, ones({5}), b), doctest::Contains("[where]"), atto::Error);
}

TEST_CASE("masked_fill fills where the broadcast mask is true and differentiates in x") {
  Tensor mask = R::masked_fill_mask.tensor(kBool);
  Tensor x = R::masked_fill_x.tensor().requires_grad_();
  Tensor y = masked_fill(x, mask, -7.5);
  CHECK_ALLCLOSE(y, R::masked_fill_y.values, kRtol64, kAtol64);
  y.backward(R::masked_fill_w.tensor());
  CHECK_ALLCLOSE(x.grad(), R::masked_fill_gx.values, kRtol64, kAtol64);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 3.0); },
                  {testing::uniform({3, 4}, -2, 2, 3)});
  Tensor xt = R::masked_fill_x.tensor().t().contiguous().t();
  CHECK_ALLCLOSE(masked_fill(xt, mask, -7.5), R::masked_fill_y.values, kRtol64, kAtol64);
  CHECK_THROWS_WITH_AS(masked_fill(x, ones({4}), 1.0), doctest::Contains("[masked_fill]"), atto::Error);
  CHECK_THROWS_WITH_AS(masked_fill(x, ones({5}, {.dtype = kBool}), 1.0), doctest::Contains("[masked_fill]"),
                       atto::Error);
}

// ---- type promotion -----------------------------------------------------------------------------------------------

TEST_CASE("type promotion follows PyTorch including 0-d tensors and Python-number scalars") {
  Tensor f32 = ones({3}), f64 = ones({3}, {.dtype = kFloat64}), i64 = ones({3}, {.dtype = kInt64});
  Tensor b = ones({3}, {.dtype = kBool});
  CHECK((f32 + f64).dtype() == kFloat64);
  CHECK((i64 + f32).dtype() == kFloat32);
  CHECK((b + i64).dtype() == kInt64);
  CHECK((f32 + scalar_tensor(2.0, {.dtype = kFloat64})).dtype() == kFloat32);   // 0-d of the same kind
  CHECK((i64 + scalar_tensor(2.0, {.dtype = kFloat64})).dtype() == kFloat64);   // 0-d of a higher kind
  CHECK((scalar_tensor(1.0) + scalar_tensor(1.0, {.dtype = kFloat64})).dtype() == kFloat64);
  CHECK((i64 * 2).dtype() == kInt64);
  CHECK((i64 * 2.5).dtype() == kFloat32);
  CHECK((b + 1).dtype() == kInt64);
  CHECK((2 - i64).dtype() == kInt64);
  CHECK((i64 / 2).dtype() == kFloat32);
  CHECK((i64 / i64).dtype() == kFloat32);
  CHECK((f32 * 2.5).dtype() == kFloat32);
  CHECK((f64 * 2).dtype() == kFloat64);
  CHECK(exp(i64).dtype() == kFloat32);
  CHECK(result_type(f32, i64) == kFloat32);

  // A float32 input combined with a float64 one receives a float32 gradient.
  Tensor a = tensor({1.0, 2.0, 3.0}, {.requires_grad = true});
  Tensor c = tensor({0.5, 0.25, 2.0}, {.dtype = kFloat64});
  Tensor y = a * c;
  CHECK(y.dtype() == kFloat64);
  y.sum().backward();
  CHECK(a.grad().dtype() == kFloat32);
  CHECK_ALLCLOSE(a.grad(), c);
}

TEST_CASE("operators match the named functions") {
  Tensor x = testing::uniform({2, 3}, 0.5, 2, 5), z = testing::uniform({3}, 0.5, 2, 6);
  CHECK(bitwise_equal(-x, neg(x)));
  CHECK(bitwise_equal(x + z, add(x, z)));
  CHECK(bitwise_equal(x - z, sub(x, z)));
  CHECK(bitwise_equal(x * z, mul(x, z)));
  CHECK(bitwise_equal(x / z, div(x, z)));
  CHECK(bitwise_equal(x - 2.0, add(x, -2.0)));
  CHECK(bitwise_equal(2 * x, x * 2.0));
  CHECK(bitwise_equal(x + 1, x + 1.0));
  CHECK_ALLCLOSE(1.0 / x, pow(x, -1.0), kRtol64, kAtol64);
  CHECK_ALLCLOSE(x.sqrt(), pow(x, 0.5), kRtol64, kAtol64);
  CHECK_ALLCLOSE(x.log().exp(), x, kRtol64, kAtol64);
  CHECK_ALLCLOSE(x.tanh(), tanh(x), 0.0, 0.0);
  CHECK_ALLCLOSE(x.sigmoid(), sigmoid(x), 0.0, 0.0);
  CHECK_ALLCLOSE((-x).relu(), zeros({2, 3}), 0.0, 0.0);
  CHECK_ALLCLOSE((-x).abs(), x, 0.0, 0.0);
}

// ---- in-place ------------------------------------------------------------------------------------------------------

TEST_CASE("in-place ops equal their out-of-place twins and broadcast other") {
  Tensor a = testing::uniform({3, 4}, -2, 2, 21), b = testing::uniform({4}, 0.5, 2, 22);
  CHECK(bitwise_equal(a.clone().add_(b, 0.5), add(a, b, 0.5)));
  CHECK(bitwise_equal(a.clone().sub_(b), sub(a, b)));
  CHECK(bitwise_equal(a.clone().mul_(b), mul(a, b)));
  CHECK(bitwise_equal(a.clone().div_(b), div(a, b)));
  CHECK(bitwise_equal(a.clone().add_(0.25), a + 0.25));
  CHECK(bitwise_equal(a.clone().mul_(0.25), a * 0.25));
  CHECK(bitwise_equal(a.clone().clamp_(-0.5, 0.5), clamp(a, -0.5, 0.5)));
  CHECK(bitwise_equal(a.clone().clamp_(std::nullopt, 0.5), clamp(a, std::nullopt, 0.5)));
  Tensor mask = b > 1.0;
  CHECK(bitwise_equal(a.clone().masked_fill_(mask, 9.0), masked_fill(a, mask, 9.0)));

  // Non-contiguous self: writes land in the base tensor.
  Tensor base = a.clone();
  Tensor view = base.t();
  view.add_(b.unsqueeze(1));
  CHECK(bitwise_equal(base, a + b));
  // float32 self with a float64 other: computed in double, rounded once.
  Tensor s32 = a.to(kFloat32);
  s32.add_(b);
  CHECK(bitwise_equal(s32, add(a.to(kFloat32).to(kFloat64), b).to(kFloat32)));
  // Integer tensors take integers.
  Tensor i = from_vector<int64_t>({1, 2, 3});
  i.add_(from_vector<int64_t>({10, 20, 30}));
  i.mul_(2.0);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{22, 44, 66});
}

TEST_CASE("in-place ops reject bad arguments with the op name") {
  Tensor a = ones({2, 3});
  CHECK_THROWS_WITH_AS(a.add_(ones({4, 3})), doctest::Contains("[add_]"), atto::Error);
  CHECK_THROWS_WITH_AS(a.add_(ones({2, 2, 3})), doctest::Contains("[add_]"), atto::Error);
  CHECK_THROWS_WITH_AS(a.mul_(ones({3, 3})), doctest::Contains("[mul_]"), atto::Error);
  CHECK_THROWS_WITH_AS(a.masked_fill_(ones({3}), 1.0), doctest::Contains("[masked_fill_]"), atto::Error);
  CHECK_THROWS_WITH_AS(a.clamp_(std::nullopt, std::nullopt), doctest::Contains("[clamp_]"), atto::Error);
  Tensor i = ones({3}, {.dtype = kInt64});
  CHECK_THROWS_WITH_AS(i.div_(i), doctest::Contains("[div_]"), atto::Error);
  CHECK_THROWS_WITH_AS(i.add_(0.5), doctest::Contains("[add_]"), atto::Error);
  CHECK_THROWS_WITH_AS(i.add_(ones({3})), doctest::Contains("[add_]"), atto::Error);
  Tensor expanded = ones({1, 3}).expand({2, 3});
  CHECK_THROWS_WITH_AS(expanded.add_(1.0), doctest::Contains("[add_]"), atto::Error);
}

TEST_CASE("in-place ops on a tensor that requires grad need NoGradGuard") {
  Tensor w = ones({3}, {.requires_grad = true});
  Tensor g = full({3}, 0.5);
  CHECK_THROWS_WITH_AS(w.add_(g, -0.1), doctest::Contains("[add_]"), atto::Error);
  CHECK_THROWS_WITH_AS(w.mul_(0.5), doctest::Contains("[mul_]"), atto::Error);
  CHECK_THROWS_WITH_AS(w.div_(g), doctest::Contains("[div_]"), atto::Error);
  CHECK_THROWS_WITH_AS(w.clamp_(0.0, 1.0), doctest::Contains("[clamp_]"), atto::Error);
  CHECK_THROWS_WITH_AS(w.masked_fill_(g > 0.0, 0.0), doctest::Contains("[masked_fill_]"), atto::Error);
  {
    NoGradGuard no_grad;
    w.add_(g, -0.1).mul_(2.0);
  }
  CHECK_ALLCLOSE(w, std::vector<double>{1.9, 1.9, 1.9});
  CHECK(w.is_leaf());
}

// ---- determinism and memory --------------------------------------------------------------------------------------

TEST_CASE("elementwise results are bitwise identical across thread counts") {
  const int saved = get_num_threads();
  Tensor x = testing::uniform({300, 400}, -3, 3, 31, kFloat32);
  Tensor z = testing::uniform({400}, -3, 3, 32, kFloat32);
  auto run = [&] { return gelu(x) * sigmoid(z) + maximum(x, z).t().contiguous().t() / 3.0; };
  set_num_threads(1);
  Tensor one = run();
  set_num_threads(4);
  Tensor four = run();
  set_num_threads(saved);
  CHECK(bitwise_equal(one, four));
}

TEST_CASE("ops that save their output do not keep the graph alive") {
  Tensor x = testing::uniform({4}, 0.5, 2, 41).requires_grad_();
  std::weak_ptr<TensorImpl> unary_out, binary_out;
  {
    Tensor y = tanh(x);
    Tensor p = pow(x, y);
    unary_out = y.impl_ptr();
    binary_out = p.impl_ptr();
  }
  CHECK(unary_out.expired());
  CHECK(binary_out.expired());
}

TEST_CASE("a chain of scalar ops backpropagates the product of the factors") {
  Tensor x = tensor({0.5, -1.0}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = x;
  for (int i = 0; i < 100; ++i) y = y * 1.0001 + 0.0001;
  y.sum().backward();
  CHECK_ALLCLOSE(x.grad(), std::vector<double>(2, std::pow(1.0001, 100)), kRtol64, kAtol64);
  CHECK(std::string(y.grad_fn()->name()) == "AddBackward");
}
