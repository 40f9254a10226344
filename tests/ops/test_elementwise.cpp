// tests/ops/test_elementwise.cpp -- the differentiable elementwise ops, table-driven: every unary op
// (and scalar form) and every binary op gets the same checks -- forward vs PyTorch in float64 and
// float32, backward vs PyTorch, gradcheck in float64, a non-contiguous input, int64 handling, and for
// binary ops broadcasting and the shape error. Reference values: tools/gen_ref_elementwise.py.
// Comparisons, where/masked_fill, promotion and in-place ops: test_elementwise_more.cpp.
#include <functional>

#include "reference/elementwise.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::elementwise;

namespace {

constexpr double kRtol64 = 1e-10, kAtol64 = 1e-12;   // float64 vs PyTorch's float64

// What an int64 input does: computed in int64, converted to float32 first, or rejected.
enum class IntIn { Keep, ToFloat, Throws };

struct UnaryCase {
  const char* name;   // the reference prefix
  const char* op;     // the name errors must carry
  const RefTensor &x, &w, &y, &y32, &gx;
  double lo, hi;
  std::vector<double> avoid;   // kinks, kept away from in gradcheck
  IntIn ints;
  std::function<Tensor(const Tensor&)> fn;
};
#define REFS(n) R::n##_x, R::n##_w, R::n##_y, R::n##_y32, R::n##_gx

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"neg", "neg", REFS(neg), -3, 3, {}, IntIn::Keep, [](const Tensor& x) { return neg(x); }},
      {"abs", "abs", REFS(abs), -3, 3, {0}, IntIn::Keep, [](const Tensor& x) { return abs(x); }},
      {"exp", "exp", REFS(exp), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return exp(x); }},
      {"log", "log", REFS(log), 0.1, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return log(x); }},
      {"log1p", "log1p", REFS(log1p), -0.9, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return log1p(x); }},
      {"sqrt", "sqrt", REFS(sqrt), 0.1, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", "rsqrt", REFS(rsqrt), 0.1, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return rsqrt(x); }},
      {"sin", "sin", REFS(sin), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return sin(x); }},
      {"cos", "cos", REFS(cos), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return cos(x); }},
      {"tanh", "tanh", REFS(tanh), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", "sigmoid", REFS(sigmoid), -6, 6, {}, IntIn::ToFloat, [](const Tensor& x) { return sigmoid(x); }},
      {"relu", "relu", REFS(relu), -3, 3, {0}, IntIn::Keep, [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", "leaky_relu", REFS(leaky_relu), -3, 3, {0}, IntIn::Throws,
       [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"leaky_relu_default", "leaky_relu", REFS(leaky_relu_default), -3, 3, {0}, IntIn::Throws,
       [](const Tensor& x) { return leaky_relu(x); }},
      {"gelu", "gelu", REFS(gelu), -4, 4, {}, IntIn::Throws, [](const Tensor& x) { return gelu(x); }},
      {"gelu_tanh", "gelu", REFS(gelu_tanh), -4, 4, {}, IntIn::Throws,
       [](const Tensor& x) { return gelu(x, GeluApprox::Tanh); }},
      {"silu", "silu", REFS(silu), -5, 5, {}, IntIn::Throws, [](const Tensor& x) { return silu(x); }},
      {"softplus", "softplus", REFS(softplus), -5, 5, {}, IntIn::Throws, [](const Tensor& x) { return softplus(x); }},
      {"softplus_b2t3", "softplus", REFS(softplus_b2t3), -3, 3, {1.5}, IntIn::Throws,
       [](const Tensor& x) { return softplus(x, 2.0, 3.0); }},
      {"pow_2_5", "pow", REFS(pow_2_5), 0.1, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return pow(x, 2.5); }},
      {"pow_3", "pow", REFS(pow_3), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return x.pow(3.0); }},
      {"pow_neg1_5", "pow", REFS(pow_neg1_5), 0.2, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return pow(x, -1.5); }},
      {"clamp", "clamp", REFS(clamp), -3, 3, {-1.0, 1.5}, IntIn::ToFloat,
       [](const Tensor& x) { return clamp(x, -1.0, 1.5); }},
      {"clamp_min", "clamp", REFS(clamp_min), -3, 3, {0.5}, IntIn::ToFloat,
       [](const Tensor& x) { return clamp_min(x, 0.5); }},
      {"clamp_max", "clamp", REFS(clamp_max), -3, 3, {-0.5}, IntIn::ToFloat,
       [](const Tensor& x) { return clamp(x, std::nullopt, -0.5); }},
      {"add_s", "add", REFS(add_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return x + 0.75; }},
      {"radd_s", "add", REFS(radd_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return 0.75 + x; }},
      {"sub_s", "sub", REFS(sub_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return x - 0.75; }},
      {"rsub_s", "sub", REFS(rsub_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return 2.0 - x; }},
      {"mul_s", "mul", REFS(mul_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return x * 1.5; }},
      {"rmul_s", "mul", REFS(rmul_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return -1.5 * x; }},
      {"div_s", "div", REFS(div_s), -3, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return x / 1.5; }},
      {"rdiv_s", "div", REFS(rdiv_s), 0.5, 3, {}, IntIn::ToFloat, [](const Tensor& x) { return 2.0 / x; }},
      {"rpow_s", "pow", REFS(rpow_s), -2, 2, {}, IntIn::ToFloat, [](const Tensor& x) { return pow(2.5, x); }},
  };
  return cases;
}

// x's values in a non-contiguous view: every other column of a wider tensor.
Tensor strided_copy(const Tensor& x) {
  Tensor base = zeros({x.size(0), 2 * x.size(1)}, {.dtype = x.dtype()});
  Tensor v = base.slice(1, 0, std::nullopt, 2);
  v.copy_(x);
  return v;
}

}  // namespace

TEST_CASE("unary ops: forward in float64 and float32 matches PyTorch") {
  for (const auto& c : unary_cases()) {
    CAPTURE(c.name);
    Tensor y = c.fn(c.x.tensor());
    CHECK(y.dtype() == kFloat64);
    CHECK(y.shape() == Shape(c.y.shape));
    CHECK_ALLCLOSE(y, c.y.values, kRtol64, kAtol64);
    Tensor y32 = c.fn(c.x.tensor(kFloat32));
    CHECK(y32.dtype() == kFloat32);
    CHECK_ALLCLOSE(y32, c.y32.values);
  }
}

TEST_CASE("unary ops: backward matches PyTorch and gradcheck passes") {
  for (const auto& c : unary_cases()) {
    CAPTURE(c.name);
    Tensor x = c.x.tensor().requires_grad_();
    Tensor y = c.fn(x);
    REQUIRE(y.grad_fn());
    y.backward(c.w.tensor());
    CHECK_ALLCLOSE(x.grad(), c.gx.values, kRtol64, kAtol64);
    Tensor xg = testing::uniform({4, 3}, c.lo, c.hi, 7, kFloat64, c.avoid);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {xg});
  }
}

TEST_CASE("unary ops: non-contiguous inputs give the same values and gradients") {
  for (const auto& c : unary_cases()) {
    CAPTURE(c.name);
    Tensor x = strided_copy(c.x.tensor());
    REQUIRE_FALSE(x.is_contiguous());
    x.requires_grad_();
    Tensor y = c.fn(x);
    CHECK_ALLCLOSE(y, c.y.values, kRtol64, kAtol64);
    y.backward(c.w.tensor());
    CHECK_ALLCLOSE(x.grad(), c.gx.values, kRtol64, kAtol64);
    Tensor xt = c.x.tensor().t();   // a transposed view
    CHECK_ALLCLOSE(c.fn(xt), c.y.tensor().t());
  }
}

TEST_CASE("unary ops: int64 inputs are kept or converted to float32 or rejected with the op name") {
  Tensor xi = from_vector<int64_t>({1, 2, 3, 4}, Shape{2, 2});
  for (const auto& c : unary_cases()) {
    CAPTURE(c.name);
    switch (c.ints) {
      case IntIn::Keep: {
        Tensor y = c.fn(xi);
        CHECK(y.dtype() == kInt64);
        CHECK_ALLCLOSE(y, c.fn(xi.to(kFloat64)));
        break;
      }
      case IntIn::ToFloat: {
        Tensor y = c.fn(xi);
        CHECK(y.dtype() == kFloat32);
        CHECK_ALLCLOSE(y, c.fn(xi.to(kFloat32)));
        break;
      }
      case IntIn::Throws:
        std::string op = fmt::format("[{}]", c.op);
        CHECK_THROWS_WITH_AS(c.fn(xi), doctest::Contains(op.c_str()), atto::Error);
        break;
    }
  }
}

TEST_CASE("unary ops: gradients at kinks follow PyTorch's conventions") {
  struct Kink {
    const RefTensor &x, &w, &y, &gx;
    std::function<Tensor(const Tensor&)> fn;
  };
#define KREFS(n) R::kink_##n##_x, R::kink_##n##_w, R::kink_##n##_y, R::kink_##n##_gx
  const std::vector<std::pair<const char*, Kink>> kinks = {
      {"relu", {KREFS(relu), [](const Tensor& x) { return relu(x); }}},
      {"abs", {KREFS(abs), [](const Tensor& x) { return abs(x); }}},
      {"leaky_relu", {KREFS(leaky_relu), [](const Tensor& x) { return leaky_relu(x, 0.2); }}},
      {"clamp", {KREFS(clamp), [](const Tensor& x) { return clamp(x, -1.0, 1.5); }}},
      {"pow0", {KREFS(pow0), [](const Tensor& x) { return pow(x, 0.0); }}},
      {"pow2", {KREFS(pow2), [](const Tensor& x) { return pow(x, 2.0); }}},
      {"rpow0", {KREFS(rpow0), [](const Tensor& x) { return pow(0.0, x); }}},
  };
#undef KREFS
  for (const auto& entry : kinks) {
    const char* name = entry.first;
    const Kink& k = entry.second;
    CAPTURE(name);
    Tensor x = k.x.tensor().requires_grad_();
    Tensor y = k.fn(x);
    CHECK_ALLCLOSE(y, k.y.values, kRtol64, kAtol64);
    y.backward(k.w.tensor());
    CHECK_ALLCLOSE(x.grad(), k.gx.values, kRtol64, kAtol64);
  }
  Tensor a = R::kink_powtt_a.tensor().requires_grad_(), b = R::kink_powtt_b.tensor().requires_grad_();
  Tensor y = pow(a, b);
  CHECK_ALLCLOSE(y, R::kink_powtt_y.values, kRtol64, kAtol64);
  y.backward(ones_like(y));
  CHECK_ALLCLOSE(a.grad(), R::kink_powtt_ga.values, kRtol64, kAtol64);
  CHECK_ALLCLOSE(b.grad(), R::kink_powtt_gb.values, kRtol64, kAtol64);
}

TEST_CASE("unary ops: bad arguments raise errors naming the op") {
  Tensor x = ones({2, 3});
  CHECK_THROWS_WITH_AS(clamp(x, std::nullopt, std::nullopt), doctest::Contains("[clamp]"), atto::Error);
  CHECK_THROWS_WITH_AS(softplus(x, 0.0), doctest::Contains("[softplus]"), atto::Error);
  CHECK_THROWS_WITH_AS(neg(ones({2}, {.dtype = kBool})), doctest::Contains("[neg]"), atto::Error);
  Tensor xi = ones({2}, {.dtype = kInt64});
  CHECK_THROWS_WITH_AS(pow(xi, -1), doctest::Contains("[pow]"), atto::Error);
  CHECK(pow(xi, 2).dtype() == kInt64);
}

// ---- binary ---------------------------------------------------------------------------------------------------

namespace {

struct BinaryCase {
  const char* name;
  const char* op;
  const RefTensor &a, &b, &w, &y, &y32, &ga, &gb;
  double alo, ahi, blo, bhi;   // gradcheck input ranges
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
};
#define BREFS(n) R::n##_a, R::n##_b, R::n##_w, R::n##_y, R::n##_y32, R::n##_ga, R::n##_gb

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", "add", BREFS(add), -3, 3, -3, 3, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"add_alpha", "add", BREFS(add_alpha), -3, 3, -3, 3,
       [](const Tensor& a, const Tensor& b) { return add(a, b, 0.5); }},
      {"sub", "sub", BREFS(sub), -3, 3, -3, 3, [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"sub_alpha", "sub", BREFS(sub_alpha), -3, 3, -3, 3,
       [](const Tensor& a, const Tensor& b) { return sub(a, b, 2.5); }},
      {"mul", "mul", BREFS(mul), -3, 3, -3, 3, [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"mul_outer", "mul", BREFS(mul_outer), -3, 3, -3, 3, [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", "div", BREFS(div), -3, 3, 0.5, 2, [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"maximum", "maximum", BREFS(maximum), -3, 3, -3, 3,
       [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", "minimum", BREFS(minimum), -3, 3, -3, 3,
       [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"pow", "pow", BREFS(pow), 0.5, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
  };
  return cases;
}

}  // namespace

TEST_CASE("binary ops: broadcast forward in float64 and float32 matches PyTorch") {
  for (const auto& c : binary_cases()) {
    CAPTURE(c.name);
    Tensor y = c.fn(c.a.tensor(), c.b.tensor());
    CHECK(y.shape() == Shape(c.y.shape));
    CHECK(y.dtype() == kFloat64);
    CHECK_ALLCLOSE(y, c.y.values, kRtol64, kAtol64);
    Tensor y32 = c.fn(c.a.tensor(kFloat32), c.b.tensor(kFloat32));
    CHECK(y32.dtype() == kFloat32);
    CHECK_ALLCLOSE(y32, c.y32.values);
  }
}

TEST_CASE("binary ops: backward through broadcasting matches PyTorch and gradcheck passes") {
  for (const auto& c : binary_cases()) {
    CAPTURE(c.name);
    Tensor a = c.a.tensor().requires_grad_(), b = c.b.tensor().requires_grad_();
    Tensor y = c.fn(a, b);
    y.backward(c.w.tensor());
    CHECK(a.grad().shape() == a.shape());
    CHECK(b.grad().shape() == b.shape());
    CHECK_ALLCLOSE(a.grad(), c.ga.values, kRtol64, kAtol64);
    CHECK_ALLCLOSE(b.grad(), c.gb.values, kRtol64, kAtol64);
    // Only one input needing a gradient.
    Tensor a2 = c.a.tensor().requires_grad_();
    c.fn(a2, c.b.tensor()).backward(c.w.tensor());
    CHECK_ALLCLOSE(a2.grad(), c.ga.values, kRtol64, kAtol64);

    Tensor ag = testing::uniform(Shape(c.a.shape), c.alo, c.ahi, 11);
    Tensor bg = testing::uniform(Shape(c.b.shape), c.blo, c.bhi, 12);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.fn(in[0], in[1]); }, {ag, bg});
  }
}

TEST_CASE("binary ops: non-contiguous operands") {
  for (const auto& c : binary_cases()) {
    CAPTURE(c.name);
    Tensor a = c.a.tensor().t().contiguous().t();   // same values, column-major strides
    if (a.ndim() == 2 && a.size(0) > 1 && a.size(1) > 1) REQUIRE_FALSE(a.is_contiguous());
    a.requires_grad_();
    Tensor b = c.b.tensor().requires_grad_();
    Tensor y = c.fn(a, b);
    CHECK_ALLCLOSE(y, c.y.values, kRtol64, kAtol64);
    y.backward(c.w.tensor());
    CHECK_ALLCLOSE(a.grad(), c.ga.values, kRtol64, kAtol64);
    CHECK_ALLCLOSE(b.grad(), c.gb.values, kRtol64, kAtol64);
  }
}

TEST_CASE("binary ops: shapes that do not broadcast raise an error naming the op and both shapes") {
  for (const auto& c : binary_cases()) {
    CAPTURE(c.name);
    Tensor a = ones({2, 3}), b = ones({4, 3});
    std::string msg;
    try {
      c.fn(a, b);
    } catch (const atto::Error& e) {
      msg = e.what();
    }
    CHECK(msg.find(fmt::format("[{}]", c.op)) != std::string::npos);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    CHECK(msg.find("[4, 3]") != std::string::npos);
  }
}

TEST_CASE("binary ops: int64 arithmetic stays int64 and div is true division") {
  Tensor a = R::int_a.tensor(kInt64), b = R::int_b.tensor(kInt64);
  struct IntCase { const char* name; Tensor y; const RefTensor& ref; DType dtype; };
  const IntCase cases[] = {
      {"add", a + b, R::int_add, kInt64},         {"sub", a - b, R::int_sub, kInt64},
      {"mul", a * b, R::int_mul, kInt64},         {"div", a / b, R::int_div, kFloat32},
      {"mul_2", a * 2, R::int_mul_2, kInt64},     {"mul_2_5", a * 2.5, R::int_mul_2_5, kFloat32},
      {"pow_2", pow(a, 2), R::int_pow_2, kInt64}, {"maximum", maximum(a, b), R::int_max, kInt64},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(c.y.dtype() == c.dtype);
    CHECK_ALLCLOSE(c.y, c.ref.values);
  }
}
