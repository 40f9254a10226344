// tests/cuda/test_elementwise.cpp -- the CUDA elementwise and copy kernels (cuda/elementwise.cu,
// cuda/copy.cu) against the CPU ones, through the public ops: every unary op forward and backward,
// binary ops with broadcasting and non-contiguous inputs, int64 ops, comparisons and logic,
// where/masked_fill, the in-place ops, copies between every dtype pair, fill.
//
// Tolerances: float32 1e-5 relative (1e-6 absolute), float64 1e-10 (1e-12), as the CPU tests; the
// device's exp/sin/erf/pow are not glibc's (nor vec_math.h's), so transcendental results differ in
// the last bits. Bitwise where both sides do the same exact operations: copies, fills, selections,
// comparisons, max/min, integer arithmetic.
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt) { return dt == kFloat32 ? Tol{1e-5, 1e-6} : Tol{1e-10, 1e-12}; }

// Same shape, dtype and values (NaN equal to NaN); a is copied back from the GPU.
bool same_values(const Tensor& gpu, const Tensor& cpu, std::string* why) {
  if (gpu.shape() != cpu.shape() || gpu.dtype() != cpu.dtype()) {
    *why = fmt::format("shape/dtype {} {} vs {} {}", gpu.shape(), gpu.dtype(), cpu.shape(), cpu.dtype());
    return false;
  }
  std::vector<double> g = gpu.cpu().to_vector<double>(), c = cpu.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    if (!(g[i] == c[i] || (std::isnan(g[i]) && std::isnan(c[i])))) {
      *why = fmt::format("element {}: got {} expected {}", i, g[i], c[i]);
      return false;
    }
  return true;
}
#define CHECK_SAME(gpu, cpu)                       \
  do {                                             \
    std::string why_;                              \
    CHECK_MESSAGE(same_values(gpu, cpu, &why_), why_); \
  } while (0)

// How the op sees its input: the leaf itself, a transpose of it, or every other column of it.
enum class Layout { Contiguous, Transposed, Stepped };
constexpr Layout kLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Stepped};

// The leaf's shape for a view of shape {3, n}.
Shape leaf_shape(Layout layout, int64_t n) {
  switch (layout) {
    case Layout::Contiguous: return {3, n};
    case Layout::Transposed: return {n, 3};
    case Layout::Stepped: return {3, 2 * n};
  }
  return {};
}
Tensor view_of(const Tensor& leaf, Layout layout) {
  switch (layout) {
    case Layout::Contiguous: return leaf;
    case Layout::Transposed: return leaf.t();
    case Layout::Stepped: return leaf.slice(1, 1, std::nullopt, 2);
  }
  return leaf;
}

struct UnaryCase {
  const char* name;
  double lo, hi;
  std::vector<double> avoid;   // kinks, where a last-bit difference flips the derivative
  std::function<Tensor(const Tensor&)> fn;
};

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"neg", -3, 3, {}, [](const Tensor& x) { return neg(x); }},
      {"abs", -3, 3, {0}, [](const Tensor& x) { return abs(x); }},
      {"exp", -3, 3, {}, [](const Tensor& x) { return exp(x); }},
      {"log", 0.1, 3, {}, [](const Tensor& x) { return log(x); }},
      {"log1p", -0.9, 3, {}, [](const Tensor& x) { return log1p(x); }},
      {"sqrt", 0.1, 3, {}, [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", 0.1, 3, {}, [](const Tensor& x) { return rsqrt(x); }},
      {"sin", -3, 3, {}, [](const Tensor& x) { return sin(x); }},
      {"cos", -3, 3, {}, [](const Tensor& x) { return cos(x); }},
      {"tanh", -3, 3, {}, [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", -6, 6, {}, [](const Tensor& x) { return sigmoid(x); }},
      {"relu", -3, 3, {0}, [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", -3, 3, {0}, [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"gelu", -4, 4, {}, [](const Tensor& x) { return gelu(x); }},
      {"gelu_tanh", -4, 4, {}, [](const Tensor& x) { return gelu(x, GeluApprox::Tanh); }},
      {"silu", -5, 5, {}, [](const Tensor& x) { return silu(x); }},
      {"softplus", -5, 5, {}, [](const Tensor& x) { return softplus(x); }},
      {"softplus_b2t3", -3, 3, {1.5}, [](const Tensor& x) { return softplus(x, 2.0, 3.0); }},
      {"clamp", -3, 3, {-1.0, 1.5}, [](const Tensor& x) { return clamp(x, -1.0, 1.5); }},
      {"clamp_min", -3, 3, {0.5}, [](const Tensor& x) { return clamp_min(x, 0.5); }},
      {"clamp_max", -3, 3, {-0.5}, [](const Tensor& x) { return clamp_max(x, -0.5); }},
      {"add_s", -3, 3, {}, [](const Tensor& x) { return x + 0.75; }},
      {"rsub_s", -3, 3, {}, [](const Tensor& x) { return 2.0 - x; }},
      {"mul_s", -3, 3, {}, [](const Tensor& x) { return x * 1.5; }},
      {"div_s", -3, 3, {}, [](const Tensor& x) { return x / 1.5; }},
      {"rdiv_s", 0.5, 3, {}, [](const Tensor& x) { return 2.0 / x; }},
      {"pow_2_5", 0.1, 3, {}, [](const Tensor& x) { return pow(x, 2.5); }},
      {"pow_3", -3, 3, {}, [](const Tensor& x) { return x.pow(3.0); }},
      {"pow_0", -3, 3, {}, [](const Tensor& x) { return x.pow(0.0); }},
      {"rpow_s", -2, 2, {}, [](const Tensor& x) { return pow(2.5, x); }},
  };
  return cases;
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: every unary op forward and backward matches the CPU") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 1;
  for (const auto& c : unary_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      const Tol tol = tol_for(dt);
      for (int64_t n : kAwkwardSizes) {
        for (Layout layout : kLayouts) {
          CAPTURE(c.name);
          CAPTURE(dt);
          CAPTURE(n);
          CAPTURE(int(layout));
          Tensor x = uniform(leaf_shape(layout, n), c.lo, c.hi, seed++, dt, c.avoid);
          Tensor w = uniform({3, n}, -1, 1, seed++, dt);
          Tensor xc = x.detach().requires_grad_();
          Tensor xg = x.to(kCUDA).requires_grad_();
          Tensor yc = c.fn(view_of(xc, layout)), yg = c.fn(view_of(xg, layout));
          REQUIRE(yg.device().is_cuda());
          CHECK(yg.dtype() == yc.dtype());
          CHECK_ALLCLOSE(yg, yc, tol.rtol, tol.atol);
          yc.backward(w);
          yg.backward(w.to(kCUDA));
          REQUIRE(xg.grad().defined());
          CHECK(xg.grad().device().is_cuda());
          CHECK_ALLCLOSE(xg.grad(), xc.grad(), tol.rtol, tol.atol);
        }
      }
    }
  }
}

TEST_CASE("cuda: exact unary ops and int64 unary ops are bitwise the CPU's") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    CAPTURE(n);
    Tensor x = uniform({3, n}, -3, 3, 11, kFloat32);
    Tensor g = x.to(kCUDA);
    CHECK_SAME(neg(g), neg(x));
    CHECK_SAME(abs(g), abs(x));
    CHECK_SAME(relu(g), relu(x));
    CHECK_SAME(clamp(g, -1.0, 1.5), clamp(x, -1.0, 1.5));
    CHECK_SAME(g * 1.5, x * 1.5);
    CHECK_SAME(g / 1.5, x / 1.5);   // IEEE division on both
    // int64 stays int64 for neg, abs, relu and integral scalars; true division goes to float32.
    Tensor i = uniform({3, n}, -20, 20, 12).to(kInt64);
    Tensor gi = i.to(kCUDA);
    CHECK(neg(gi).dtype() == kInt64);
    CHECK_SAME(neg(gi), neg(i));
    CHECK_SAME(abs(gi), abs(i));
    CHECK_SAME(relu(gi), relu(i));
    CHECK_SAME(gi + 7, i + 7);
    CHECK_SAME(gi * -3, i * -3);
    CHECK_SAME(sub(7, gi), sub(7, i));
    CHECK_SAME(pow(gi, 3), pow(i, 3));
    CHECK_SAME(pow(2, gi), pow(2, i));   // negative exponents give 0, as PyTorch
    CHECK_SAME(gi / 4, i / 4);
    CHECK((gi / 4).dtype() == kFloat32);
    CHECK_SAME(gi.t().contiguous(), i.t().contiguous());
  }
}

// ---- binary ---------------------------------------------------------------------------------------------------

namespace {

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
struct BinaryCase {
  const char* name;
  double lo, hi;   // for both inputs
  BinaryFn fn;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", -3, 3, [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"add_alpha", -3, 3, [](const Tensor& a, const Tensor& b) { return add(a, b, -0.3); }},
      {"sub", -3, 3, [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"sub_alpha", -3, 3, [](const Tensor& a, const Tensor& b) { return sub(a, b, 2.5); }},
      {"mul", -3, 3, [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", 0.5, 3, [](const Tensor& a, const Tensor& b) { return div(a, b); }},
      {"maximum", -3, 3, [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", -3, 3, [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"pow", 0.5, 2, [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
  };
  return cases;
}

// Pairs of input shapes: equal, broadcast both ways, a 0-d operand, a transposed b.
struct ShapePair {
  Shape a, b;
  bool transpose_b;   // b is the transpose of a leaf of b's shape reversed
};
std::vector<ShapePair> shape_pairs(int64_t n) {
  return {{{3, n}, {3, n}, false}, {{4, n}, {n}, false}, {{n, 1}, {1, 5}, false},
          {{2, 1, n}, {3, 1}, false}, {{n}, {}, false}, {{3, n}, {3, n}, true}};
}

}  // namespace

TEST_CASE("cuda: binary ops with broadcasting and non-contiguous inputs match the CPU forward and backward") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 100;
  for (const auto& c : binary_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      const Tol tol = tol_for(dt);
      for (int64_t n : kAwkwardSizes) {
        for (const ShapePair& sp : shape_pairs(n)) {
          CAPTURE(c.name);
          CAPTURE(dt);
          CAPTURE(sp.a);
          CAPTURE(sp.b);
          CAPTURE(sp.transpose_b);
          Shape b_leaf = sp.transpose_b ? Shape{sp.b[1], sp.b[0]} : sp.b;
          Tensor a = uniform(sp.a, c.lo, c.hi, seed++, dt), b = uniform(b_leaf, c.lo, c.hi, seed++, dt);
          Tensor ac = a.detach().requires_grad_(), bc = b.detach().requires_grad_();
          Tensor ag = a.to(kCUDA).requires_grad_(), bg = b.to(kCUDA).requires_grad_();
          auto b_in = [&](const Tensor& t) { return sp.transpose_b ? t.t() : t; };
          Tensor yc = c.fn(ac, b_in(bc)), yg = c.fn(ag, b_in(bg));
          REQUIRE(yg.device().is_cuda());
          CHECK_ALLCLOSE(yg, yc, tol.rtol, tol.atol);
          Tensor w = uniform(yc.shape(), -1, 1, seed++, dt);
          yc.backward(w);
          yg.backward(w.to(kCUDA));
          CHECK_ALLCLOSE(ag.grad(), ac.grad(), tol.rtol, tol.atol);
          CHECK_ALLCLOSE(bg.grad(), bc.grad(), tol.rtol, tol.atol);
        }
      }
    }
  }
}

TEST_CASE("cuda: exact binary ops are bitwise the CPU's and int64 ops stay int64") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    CAPTURE(n);
    for (const ShapePair& sp : shape_pairs(n)) {
      if (sp.transpose_b) continue;
      CAPTURE(sp.a);
      CAPTURE(sp.b);
      Tensor a = uniform(sp.a, -3, 3, 31), b = uniform(sp.b, -3, 3, 32);
      Tensor ag = a.to(kCUDA), bg = b.to(kCUDA);
      CHECK_SAME(ag + bg, a + b);
      CHECK_SAME(ag - bg, a - b);
      CHECK_SAME(ag * bg, a * b);
      CHECK_SAME(ag / bg, a / b);
      CHECK_SAME(maximum(ag, bg), maximum(a, b));
      CHECK_SAME(minimum(ag, bg), minimum(a, b));
      Tensor i = uniform(sp.a, -50, 50, 33).to(kInt64), j = uniform(sp.b, 1, 6, 34).to(kInt64);
      Tensor ig = i.to(kCUDA), jg = j.to(kCUDA);
      CHECK((ig + jg).dtype() == kInt64);
      CHECK_SAME(ig + jg, i + j);
      CHECK_SAME(ig - jg, i - j);
      CHECK_SAME(ig * jg, i * j);
      CHECK_SAME(add(ig, jg, 3), add(i, j, 3));
      CHECK_SAME(maximum(ig, jg), maximum(i, j));
      CHECK_SAME(minimum(ig, jg), minimum(i, j));
      CHECK_SAME(pow(ig, jg), pow(i, j));
      CHECK_SAME(ig / jg, i / j);   // true division: float32
      // Mixed dtypes promote before the kernel: int64 with float32 computes in float32.
      CHECK_SAME(ig + bg.to(kFloat32), i + b.to(kFloat32));
    }
  }
  // NaN propagates through maximum and minimum from either side.
  Tensor a = from_vector<float>({NAN, 1.0f, 2.0f, NAN}), b = from_vector<float>({0.0f, NAN, 3.0f, NAN});
  CHECK_SAME(maximum(a.to(kCUDA), b.to(kCUDA)), maximum(a, b));
  CHECK_SAME(minimum(a.to(kCUDA), b.to(kCUDA)), minimum(a, b));
}

TEST_CASE("cuda: maximum splits the gradient at ties like the CPU") {
  ATTO_REQUIRE_CUDA();
  Tensor a = from_vector<double>({1, 2, 3, 4}), b = from_vector<double>({1, 3, 3, 0});
  Tensor ac = a.detach().requires_grad_(), bc = b.detach().requires_grad_();
  Tensor ag = a.to(kCUDA).requires_grad_(), bg = b.to(kCUDA).requires_grad_();
  maximum(ac, bc).backward(ones({4}, {.dtype = kFloat64}));
  maximum(ag, bg).backward(ones({4}, {.dtype = kFloat64, .device = kCUDA}));
  CHECK_SAME(ag.grad(), ac.grad());
  CHECK_SAME(bg.grad(), bc.grad());
}

// ---- comparisons and logic --------------------------------------------------------------------------------------

TEST_CASE("cuda: comparisons and logic ops are bitwise the CPU's for every dtype") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    for (DType dt : {kFloat32, kFloat64, kInt64, kBool}) {
      CAPTURE(n);
      CAPTURE(dt);
      // Small integers, so that ties (eq, le, ge) occur.
      Tensor a = uniform({4, n}, 0, 3, 41).to(kInt64).to(dt);
      Tensor b = uniform({n}, 0, 3, 42).to(kInt64).to(dt);
      Tensor at = uniform({n, 4}, 0, 3, 43).to(kInt64).to(dt).t();   // non-contiguous
      Tensor ag = a.to(kCUDA), bg = b.to(kCUDA);
      // to(kCUDA) would make `at` contiguous: move its transpose and transpose it back on the GPU.
      Tensor atg_view = at.t().contiguous().to(kCUDA).t();
      if (n > 1) CHECK(!atg_view.is_contiguous());
      CHECK_SAME(eq(ag, bg), eq(a, b));
      CHECK_SAME(ne(ag, bg), ne(a, b));
      CHECK_SAME(lt(ag, bg), lt(a, b));
      CHECK_SAME(le(ag, bg), le(a, b));
      CHECK_SAME(gt(ag, bg), gt(a, b));
      CHECK_SAME(ge(ag, bg), ge(a, b));
      CHECK_SAME(lt(atg_view, ag), lt(at, a));
      CHECK_SAME(eq(ag, 1), eq(a, 1));
      CHECK_SAME(ne(ag, 1), ne(a, 1));
      CHECK_SAME(lt(ag, 1), lt(a, 1));
      CHECK_SAME(le(ag, 1), le(a, 1));
      CHECK_SAME(gt(ag, 1), gt(a, 1));
      CHECK_SAME(ge(ag, 1), ge(a, 1));
      CHECK_SAME(logical_not(ag), logical_not(a));
      CHECK_SAME(logical_and(ag, bg), logical_and(a, b));
      CHECK_SAME(logical_or(atg_view, bg), logical_or(at, b));
      CHECK(eq(ag, bg).dtype() == kBool);
      CHECK(eq(ag, bg).device().is_cuda());
    }
  }
  // Mixed dtypes and a float scalar compare in the promoted type: int64 2 < 2.5.
  Tensor i = from_vector<int64_t>({1, 2, 3});
  CHECK_SAME(lt(i.to(kCUDA), 2.5), lt(i, 2.5));
  CHECK_SAME(eq(i.to(kCUDA), from_vector<double>({1, 2.5, 3}).to(kCUDA)), eq(i, from_vector<double>({1, 2.5, 3})));
  // NaN compares unequal to everything.
  Tensor f = from_vector<float>({NAN, 1.0f});
  CHECK_SAME(eq(f.to(kCUDA), f.to(kCUDA)), eq(f, f));
  CHECK_SAME(ne(f.to(kCUDA), 1.0), ne(f, 1.0));
}

// ---- where / masked_fill -----------------------------------------------------------------------------------------

TEST_CASE("cuda: where broadcasts and differentiates in both branches like the CPU") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 200;
  for (int64_t n : kAwkwardSizes) {
    for (DType dt : {kFloat32, kFloat64}) {
      CAPTURE(n);
      CAPTURE(dt);
      Tensor cond = uniform({n, 1}, -1, 1, seed++) > 0.0;
      Tensor a = uniform({1, 5}, -3, 3, seed++, dt), b = uniform({n, 5}, -3, 3, seed++, dt);
      Tensor ac = a.detach().requires_grad_(), bc = b.detach().requires_grad_();
      Tensor ag = a.to(kCUDA).requires_grad_(), bg = b.to(kCUDA).requires_grad_();
      Tensor condg = cond.to(kCUDA);
      Tensor yc = where(cond, ac, bc), yg = where(condg, ag, bg);
      CHECK_SAME(yg, yc);
      Tensor w = uniform(yc.shape(), -1, 1, seed++, dt);
      yc.backward(w);
      yg.backward(w.to(kCUDA));
      const Tol tol = tol_for(dt);
      CHECK_ALLCLOSE(ag.grad(), ac.grad(), tol.rtol, tol.atol);   // summed over the broadcast rows
      CHECK_SAME(bg.grad(), bc.grad());
      // A transposed condition and a scalar branch.
      Tensor cond_t = (uniform({5, n}, -1, 1, seed++) > 0.0);
      CHECK_SAME(where(cond_t.to(kCUDA).t(), b.to(kCUDA), 0.5), where(cond_t.t(), b, 0.5));
    }
    // int64 and bool values.
    Tensor cond = uniform({3, n}, -1, 1, seed++) > 0.0;
    Tensor i = uniform({3, n}, -9, 9, seed++).to(kInt64), j = uniform({n}, -9, 9, seed++).to(kInt64);
    CHECK_SAME(where(cond.to(kCUDA), i.to(kCUDA), j.to(kCUDA)), where(cond, i, j));
    Tensor p = i > 0, q = j > 0;
    CHECK_SAME(where(cond.to(kCUDA), p.to(kCUDA), q.to(kCUDA)), where(cond, p, q));
  }
}

TEST_CASE("cuda: masked_fill and masked_fill_ match the CPU forward and backward") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 300;
  for (int64_t n : kAwkwardSizes) {
    for (DType dt : {kFloat32, kFloat64, kInt64}) {
      CAPTURE(n);
      CAPTURE(dt);
      Tensor x = uniform({n, 4}, -3, 3, seed++).to(dt);
      Tensor mask_row = uniform({4}, -1, 1, seed++) > 0.0, mask_col = uniform({n, 1}, -1, 1, seed++) > 0.0;
      CHECK_SAME(masked_fill(x.to(kCUDA), mask_row.to(kCUDA), 2.0), masked_fill(x, mask_row, 2.0));
      CHECK_SAME(masked_fill(x.to(kCUDA).t(), mask_col.to(kCUDA).t(), -7.0), masked_fill(x.t(), mask_col.t(), -7.0));
      // In place, into a non-contiguous view: the writes land in the base tensor.
      Tensor base_c = x.clone(), base_g = x.to(kCUDA);
      base_c.t().masked_fill_(mask_col.t(), 5.0);
      base_g.t().masked_fill_(mask_col.to(kCUDA).t(), 5.0);
      CHECK_SAME(base_g, base_c);
      if (dt == kInt64) continue;
      Tensor xc = x.detach().requires_grad_(), xg = x.to(kCUDA).requires_grad_();
      Tensor yc = masked_fill(xc, mask_row, 2.5), yg = masked_fill(xg, mask_row.to(kCUDA), 2.5);
      Tensor w = uniform(yc.shape(), -1, 1, seed++, dt);
      yc.backward(w);
      yg.backward(w.to(kCUDA));
      CHECK_SAME(xg.grad(), xc.grad());
    }
  }
}

// ---- in-place ops ----------------------------------------------------------------------------------------------

TEST_CASE("cuda: in-place ops match the CPU including mixed dtypes and broadcast other") {
  ATTO_REQUIRE_CUDA();
  uint64_t seed = 400;
  for (int64_t n : kAwkwardSizes) {
    CAPTURE(n);
    for (DType self_dt : {kFloat32, kFloat64}) {
      for (DType other_dt : {kFloat32, kFloat64, kInt64, kBool}) {
        CAPTURE(self_dt);
        CAPTURE(other_dt);
        Tensor s = uniform({3, n}, -3, 3, seed++, self_dt);
        Tensor o = uniform({n}, 0.5, 3, seed++).to(other_dt);   // bool: all true; int64: 0..2
        if (other_dt == kInt64) o = o + 1;   // no division by zero
        const Tol tol = tol_for(self_dt);
        Tensor sc = s.clone(), sg = s.to(kCUDA);
        sc.add_(o, 0.5);
        sg.add_(o.to(kCUDA), 0.5);
        CHECK_ALLCLOSE(sg, sc, tol.rtol, tol.atol);
        sc.mul_(o);
        sg.mul_(o.to(kCUDA));
        CHECK_ALLCLOSE(sg, sc, tol.rtol, tol.atol);
        if (other_dt != kBool) {
          sc.div_(o);
          sg.div_(o.to(kCUDA));
          CHECK_ALLCLOSE(sg, sc, tol.rtol, tol.atol);
        }
        sc.sub_(o);
        sg.sub_(o.to(kCUDA));
        CHECK_ALLCLOSE(sg, sc, tol.rtol, tol.atol);
        CHECK(sg.dtype() == self_dt);
      }
      // Scalar forms and clamp_, through a transposed view.
      Tensor s = uniform({n, 3}, -3, 3, seed++, self_dt);
      Tensor sc = s.clone(), sg = s.to(kCUDA);
      sc.t().add_(0.25).mul_(-1.5).clamp_(-2.0, 1.0);
      sg.t().add_(0.25).mul_(-1.5).clamp_(-2.0, 1.0);
      CHECK_SAME(sg, sc);
    }
    // float32 self, float64 other: computed in double and rounded once on both devices (the device
    // may fuse a + alpha * b into one fma, hence a tolerance of one float32 ulp).
    Tensor s32 = uniform({3, n}, -3, 3, seed++, kFloat32);
    Tensor o64 = uniform({n}, -3, 3, seed++, kFloat64);
    Tensor sc = s32.clone(), sg = s32.to(kCUDA);
    sc.add_(o64);
    sg.add_(o64.to(kCUDA));
    CHECK_SAME(sg, sc);   // alpha 1: a + 1 * b is exact in double before the rounding
    sc.mul_(o64);
    sg.mul_(o64.to(kCUDA));
    CHECK_SAME(sg, sc);
    CHECK_SAME(sg, mul((s32.to(kFloat64) + o64).to(kFloat32).to(kFloat64), o64).to(kFloat32));
    // int64 self takes int64 and bool others and integral scalars.
    Tensor i = uniform({3, n}, -50, 50, seed++).to(kInt64), j = uniform({n}, -5, 5, seed++).to(kInt64);
    Tensor ic = i.clone(), ig = i.to(kCUDA);
    ic.add_(j, 2).mul_(j).add_(j > 0).add_(3.0).mul_(2.0).clamp_(-100.0, 100.0);
    ig.add_(j.to(kCUDA), 2).mul_(j.to(kCUDA)).add_(j.to(kCUDA) > 0).add_(3.0).mul_(2.0).clamp_(-100.0, 100.0);
    CHECK(ig.dtype() == kInt64);
    CHECK_SAME(ig, ic);
  }
}

// ---- copy and fill -----------------------------------------------------------------------------------------------

TEST_CASE("cuda: to(dtype) converts between every dtype pair bitwise like the CPU") {
  ATTO_REQUIRE_CUDA();
  // Negative, zero, fractional and large values: truncation towards zero, bool as x != 0.
  std::vector<double> values = {-2.75, -1.0, -0.5, 0.0, 0.25, 1.0, 3.5, 1e6 + 0.5, -123456.0};
  for (int64_t n : kAwkwardSizes) {
    std::vector<double> v(size_t(3 * n));
    for (size_t k = 0; k < v.size(); ++k) v[k] = values[k % values.size()];
    Tensor base = from_vector<double>(v, Shape{3, n});
    for (DType from : {kFloat32, kFloat64, kInt64, kBool}) {
      for (DType to : {kFloat32, kFloat64, kInt64, kBool}) {
        CAPTURE(n);
        CAPTURE(from);
        CAPTURE(to);
        Tensor src = base.to(from);
        Tensor g = src.to(kCUDA).to(to);
        CHECK(g.device().is_cuda());
        CHECK_SAME(g, src.to(to));
        // A non-contiguous source.
        CHECK_SAME(src.to(kCUDA).t().to(to), src.t().to(to));
        CHECK_SAME(src.to(kCUDA).slice(1, 0, std::nullopt, 2).to(to), src.slice(1, 0, std::nullopt, 2).to(to));
      }
    }
  }
}

TEST_CASE("cuda: copy_ into strided views with broadcasting and contiguous of views") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    CAPTURE(n);
    Tensor x = uniform({3, n}, -3, 3, 51);
    Tensor xg = x.to(kCUDA);
    CHECK_SAME(xg.t().contiguous(), x.t().contiguous());
    CHECK_SAME(xg.t().clone(), x.t().clone());
    CHECK_SAME(xg.slice(1, 1, std::nullopt, 3).contiguous(), x.slice(1, 1, std::nullopt, 3).contiguous());
    Tensor p = uniform({2, 3, n}, -1, 1, 52).permute({2, 0, 1});
    CHECK_SAME(p.to(kCUDA), p);
    CHECK_SAME(p.contiguous().to(kCUDA).permute({1, 2, 0}).contiguous(), p.contiguous().permute({1, 2, 0}).contiguous());
    // Into every other column of a zero tensor, from a broadcast row, with a dtype change.
    Tensor row = uniform({n}, -3, 3, 53, kFloat32);
    Tensor dc = zeros({3, 2 * n}), dg = zeros({3, 2 * n}, {.device = kCUDA});
    dc.slice(1, 0, std::nullopt, 2).copy_(row.to(kFloat64));
    dg.slice(1, 0, std::nullopt, 2).copy_(row.to(kFloat64).to(kCUDA));
    CHECK_SAME(dg, dc);
    // A column broadcast into a transposed destination.
    Tensor col = uniform({n, 1}, -3, 3, 54, kFloat32).to(kInt64);
    Tensor ec = zeros({3, n}), eg = zeros({3, n}, {.device = kCUDA});
    ec.t().copy_(col);
    eg.t().copy_(col.to(kCUDA));
    CHECK_SAME(eg, ec);
  }
  // Empty tensors launch nothing and still work.
  Tensor e = zeros({0, 3}, {.device = kCUDA});
  CHECK(e.t().contiguous().shape() == Shape{3, 0});
  CHECK((e + 1.0).numel() == 0);
}

TEST_CASE("cuda: fill_ writes every dtype into contiguous and strided views") {
  ATTO_REQUIRE_CUDA();
  for (int64_t n : kAwkwardSizes) {
    for (DType dt : {kFloat32, kFloat64, kInt64, kBool}) {
      CAPTURE(n);
      CAPTURE(dt);
      Tensor c = zeros({3, 2 * n}, {.dtype = dt}), g = zeros({3, 2 * n}, {.dtype = dt, .device = kCUDA});
      CHECK_SAME(g, c);
      c.slice(1, 1, std::nullopt, 2).fill_(-2.5);
      g.slice(1, 1, std::nullopt, 2).fill_(-2.5);
      CHECK_SAME(g, c);
      c.t().fill_(0.1);
      g.t().fill_(0.1);
      CHECK_SAME(g, c);
      CHECK_SAME(full({n}, 7.0, {.dtype = dt, .device = kCUDA}), full({n}, 7.0, {.dtype = dt}));
      CHECK_SAME(ones({n, 2}, {.dtype = dt, .device = kCUDA}), ones({n, 2}, {.dtype = dt}));
    }
  }
}

}  // TEST_SUITE("cuda")
