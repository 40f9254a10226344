// tests/ops/test_conv.cpp -- conv2d, max_pool2d and avg_pool2d against PyTorch (tools/gen_ref_conv.py):
// outputs and gradients in float64 and float32 for each configuration, gradcheck, NHWC views, chunked
// batches, thread-count independence, argument errors.
#include <functional>

#include "reference/conv.h"
#include "test_util.h"

using namespace atto;
using atto::testing::uniform;
namespace R = ref::conv;

namespace {

struct ConvCase {
  const char* name;
  const RefTensor &x, &w, *b, &dy;
  const RefTensor &y64, &dx64, &dw64, *db64, &y32, &dx32, &dw32, *db32;
  Size2 stride, padding, dilation;
  int64_t groups;
};

#define CONV_CASE(n, ...)                                                                                            \
  ConvCase {                                                                                                         \
    #n, R::n##_x, R::n##_w, &R::n##_b, R::n##_dy, R::n##_y64, R::n##_dx64, R::n##_dw64, &R::n##_db64, R::n##_y32,    \
        R::n##_dx32, R::n##_dw32, &R::n##_db32, __VA_ARGS__                                                          \
  }

// The same configurations as CONV in tools/gen_ref_conv.py.
const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      CONV_CASE(basic, 1, 0, 1, 1),
      CONV_CASE(stride2, 2, 0, 1, 1),
      CONV_CASE(pad1, 1, 1, 1, 1),
      CONV_CASE(dil2, 1, 0, 2, 1),
      CONV_CASE(groups2, 1, 1, 1, 2),
      ConvCase{"nobias", R::nobias_x, R::nobias_w, nullptr, R::nobias_dy, R::nobias_y64, R::nobias_dx64,
               R::nobias_dw64, nullptr, R::nobias_y32, R::nobias_dx32, R::nobias_dw32, nullptr, {2, 1}, {1, 0}, 1, 1},
      CONV_CASE(unbatched, 1, 1, 1, 1),
      CONV_CASE(k1x1, 1, 0, 1, 1),
      CONV_CASE(rect, {1, 2}, {0, 1}, {2, 1}, 1),
      CONV_CASE(depthwise, 2, 2, 2, 3),
  };
  return cases;
}

void check_ref(const Tensor& t, const RefTensor& r, double rtol, double atol) {
  REQUIRE(t.defined());
  CHECK_MESSAGE(t.shape() == Shape(r.shape), fmt::format("shape {} vs reference {}", t.shape(), Shape(r.shape)));
  CHECK_ALLCLOSE(t, r.values, rtol, atol);
}

struct ThreadGuard {
  int saved = get_num_threads();
  ~ThreadGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("conv2d outputs and gradients match PyTorch in float64 and float32") {
  for (const ConvCase& c : conv_cases()) {
    for (DType dt : {kFloat64, kFloat32}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(dt);
      const bool f64 = dt == kFloat64;
      const double rtol = f64 ? 1e-12 : 1e-5, atol = f64 ? 1e-12 : 1e-6;
      Tensor x = c.x.tensor(dt).requires_grad_(), w = c.w.tensor(dt).requires_grad_();
      Tensor b = c.b ? c.b->tensor(dt).requires_grad_() : Tensor{};
      Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      CHECK(y.dtype() == dt);
      REQUIRE(y.grad_fn());   // an unbatched result is a view of the batched one
      CHECK(std::string(y.grad_fn()->name()) == (c.x.shape.size() == 4 ? "ConvolutionBackward" : "ViewBackward"));
      check_ref(y, f64 ? c.y64 : c.y32, rtol, atol);
      y.backward(c.dy.tensor(dt));
      check_ref(x.grad(), f64 ? c.dx64 : c.dx32, rtol, atol);
      check_ref(w.grad(), f64 ? c.dw64 : c.dw32, rtol, atol);
      if (c.b) check_ref(b.grad(), f64 ? *c.db64 : *c.db32, rtol, atol);
    }
  }
}

TEST_CASE("conv2d passes gradcheck in float64 for every configuration") {
  for (const ConvCase& c : conv_cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    std::vector<Tensor> in = {c.x.tensor(), c.w.tensor()};
    if (c.b) in.push_back(c.b->tensor());
    CHECK_GRADCHECK(
        [&c](const std::vector<Tensor>& v) {
          return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor{}, c.stride, c.padding, c.dilation, c.groups);
        },
        in);
  }
}

namespace {

// out[n, co, oh, ow] = b[co] + sum over the group's channels ci and taps (i, j) of
// x[n, ci, oh*sH - pH + i*dH, ow*sW - pW + j*dW] * w[co, ci - first, i, j]: the definition, loop by loop.
std::vector<double> direct_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 s, Size2 p, Size2 d,
                                  int64_t groups, int64_t oH, int64_t oW) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Co = w.size(0), Cg = w.size(1), kH = w.size(2), kW = w.size(3);
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t oh = 0; oh < oH; ++oh)
        for (int64_t ow = 0; ow < oW; ++ow) {
          double acc = bv[size_t(co)];
          const int64_t first = co / (Co / groups) * Cg;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                const int64_t h = oh * s.h - p.h + i * d.h, v = ow * s.w - p.w + j * d.w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += xv[size_t(((n * C + first + ci) * H + h) * W + v)] *
                       wv[size_t(((co * Cg + ci) * kH + i) * kW + j)];
              }
          out.push_back(acc);
        }
  return out;
}

}  // namespace

TEST_CASE("conv2d matches a direct convolution and passes gradcheck over random geometries") {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t groups = pick(1, 3), N = pick(1, 2), Cg = pick(1, 2), Cog = pick(1, 2);
    const Size2 k{pick(1, 4), pick(1, 4)}, s{pick(1, 3), pick(1, 3)};
    const Size2 p{pick(0, 3), pick(0, 3)}, d{pick(1, 3), pick(1, 3)};
    const int64_t H = std::max<int64_t>(1, d.h * (k.h - 1) + 1 - 2 * p.h + pick(0, 5));
    const int64_t W = std::max<int64_t>(1, d.w * (k.w - 1) + 1 - 2 * p.w + pick(0, 5));
    const int64_t oH = (H + 2 * p.h - d.h * (k.h - 1) - 1) / s.h + 1;
    const int64_t oW = (W + 2 * p.w - d.w * (k.w - 1) - 1) / s.w + 1;
    CAPTURE(trial);
    Tensor x = uniform({N, Cg * groups, H, W}, -1, 1, uint64_t(100 + trial));
    Tensor w = uniform({Cog * groups, Cg, k.h, k.w}, -1, 1, uint64_t(200 + trial));
    Tensor b = uniform({Cog * groups}, -1, 1, uint64_t(300 + trial));
    Tensor y = conv2d(x, w, b, s, p, d, groups);
    REQUIRE(y.shape() == Shape{N, Cog * groups, oH, oW});
    CHECK_ALLCLOSE(y, direct_conv2d(x, w, b, s, p, d, groups, oH, oW), 1e-12, 1e-12);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], s, p, d, groups); }, {x, w, b});
  }
}

TEST_CASE("conv2d reads an NHWC tensor permuted to NCHW") {
  Tensor x = R::nhwc_x.tensor().permute({0, 3, 1, 2});
  REQUIRE_FALSE(x.is_contiguous());
  check_ref(conv2d(x, R::nhwc_w.tensor(), {}, 1, 1), R::nhwc_y, 1e-12, 1e-12);
  check_ref(conv2d(R::nhwc_x.tensor(kFloat32).permute({0, 3, 1, 2}), R::nhwc_w.tensor(kFloat32), {}, 1, 1), R::nhwc_y,
            1e-5, 1e-5);
  // the gradient flows back through the permute, and a transposed weight is read as well
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& v) {
        return conv2d(v[0].permute({0, 3, 1, 2}), v[1].transpose(2, 3), v[2], 2, 1, 1, 1);
      },
      {uniform({2, 5, 4, 3}, -1, 1, 1), uniform({2, 3, 2, 3}, -1, 1, 2), uniform({2}, -1, 1, 3)});
}

TEST_CASE("conv2d over a batch cut into im2col chunks matches convolving each image alone") {
  // 72 column rows x 1600 positions per image: the 12 images run as chunks of 9 and 3.
  Tensor x = uniform({12, 8, 40, 40}, -1, 1, 4).requires_grad_();
  Tensor w = uniform({6, 8, 3, 3}, -1, 1, 5).requires_grad_(), b = uniform({6}, -1, 1, 6).requires_grad_();
  Tensor dy = uniform({12, 6, 40, 40}, -1, 1, 7);
  Tensor y = conv2d(x, w, b, 1, 1);
  y.backward(dy);
  Tensor dw_sum = zeros({6, 8, 3, 3}, {.dtype = kFloat64});
  for (int64_t n = 0; n < 12; ++n) {
    CAPTURE(n);
    Tensor xn = x.detach()[n].requires_grad_(), wn = w.detach().requires_grad_();
    Tensor yn = conv2d(xn, wn, b.detach(), 1, 1);   // unbatched: one image per chunk
    CHECK_ALLCLOSE(yn, y.detach()[n], 1e-12, 1e-12);
    yn.backward(dy[n]);
    CHECK_ALLCLOSE(xn.grad(), x.grad()[n], 1e-12, 1e-12);
    dw_sum.add_(wn.grad());
  }
  CHECK_ALLCLOSE(w.grad(), dw_sum, 1e-11, 1e-11);
  CHECK_ALLCLOSE(b.grad(), dy.sum({0, 2, 3}), 1e-12, 1e-12);
}

TEST_CASE("conv2d computes only the gradients that are needed and handles an empty batch") {
  Tensor x = uniform({2, 3, 5, 5}, -1, 1, 8), w = uniform({4, 3, 3, 3}, -1, 1, 9).requires_grad_();
  conv2d(x, w, zeros({4}, {.dtype = kFloat64})).sum().backward();
  CHECK(w.grad().defined());
  CHECK_FALSE(x.grad().defined());

  Tensor e = zeros({0, 3, 5, 5}, {.dtype = kFloat64, .requires_grad = true});
  Tensor w2 = uniform({4, 3, 3, 3}, -1, 1, 10).requires_grad_(), b2 = uniform({4}, -1, 1, 11).requires_grad_();
  Tensor y = conv2d(e, w2, b2, 1, 1);
  CHECK(y.shape() == Shape{0, 4, 5, 5});
  y.sum().backward();
  CHECK(e.grad().shape() == e.shape());
  CHECK_ALLCLOSE(w2.grad(), zeros({4, 3, 3, 3}, {.dtype = kFloat64}), 0, 0);
  CHECK_ALLCLOSE(b2.grad(), zeros({4}, {.dtype = kFloat64}), 0, 0);
}

// ---- pooling -------------------------------------------------------------------------------------------

namespace {

using PoolFn = std::function<Tensor(const Tensor&)>;
struct PoolCase {
  const char* name;
  const RefTensor &x, &dy, &y64, &dx64, &y32, &dx32, *idx;
  PoolFn fn;
  std::function<Tensor(const Tensor&)> indices;   // max pools: the indices of the same call
};

#define POOL_CASE(n, idx, fn, ind) \
  PoolCase { #n, R::n##_x, R::n##_dy, R::n##_y64, R::n##_dx64, R::n##_y32, R::n##_dx32, idx, fn, ind }
#define MAX_CASE(n, ...)                                                                          \
  POOL_CASE(                                                                                      \
      n, &R::n##_idx, [](const Tensor& x) { return max_pool2d(x, __VA_ARGS__); },                 \
      [](const Tensor& x) { return max_pool2d_with_indices(x, __VA_ARGS__).second; })
#define AVG_CASE(n, ...) POOL_CASE(n, nullptr, [](const Tensor& x) { return avg_pool2d(x, __VA_ARGS__); }, nullptr)

// The same configurations as POOL in tools/gen_ref_conv.py.
const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      MAX_CASE(max_k2, 2),
      MAX_CASE(max_k3s2p1, 3, 2, 1),
      MAX_CASE(max_ceil, 3, 2, 0, 1, true),
      MAX_CASE(max_ceil_pad, {2, 3}, {2, 2}, {1, 1}, 1, true),
      MAX_CASE(max_dil, {3, 2}, {1, 2}, {1, 0}, {2, 3}),
      MAX_CASE(max_unbatched, 2, 1),
      MAX_CASE(max_ties, 3, 1, 1),
      AVG_CASE(avg_k2, 2),
      AVG_CASE(avg_k3s2p1, 3, 2, 1),
      AVG_CASE(avg_nopad_count, 3, 2, 1, false, false),
      AVG_CASE(avg_ceil, 3, 2, 1, true),
      AVG_CASE(avg_ceil_nocount, {2, 3}, 2, {1, 1}, true, false),
      AVG_CASE(avg_divisor, {2, 3}, {1, 2}, 0, false, true, 4),
      AVG_CASE(avg_unbatched, 3, 1, 1),
  };
  return cases;
}

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d outputs and gradients match PyTorch in float64 and float32") {
  for (const PoolCase& c : pool_cases()) {
    for (DType dt : {kFloat64, kFloat32}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(dt);
      const bool f64 = dt == kFloat64;
      const double rtol = f64 ? 1e-12 : 1e-5, atol = f64 ? 1e-12 : 1e-6;
      Tensor x = c.x.tensor(dt).requires_grad_();
      Tensor y = c.fn(x);
      CHECK(y.dtype() == dt);
      check_ref(y, f64 ? c.y64 : c.y32, rtol, atol);
      y.backward(c.dy.tensor(dt));
      check_ref(x.grad(), f64 ? c.dx64 : c.dx32, rtol, atol);
      if (c.idx) {
        Tensor idx = c.indices(c.x.tensor(dt));
        CHECK(idx.dtype() == kInt64);
        check_ref(idx, *c.idx, 0, 0);
      }
    }
  }
}

TEST_CASE("max_pool2d and avg_pool2d pass gradcheck in float64") {
  for (const PoolCase& c : pool_cases()) {
    if (std::string(c.name) == "max_ties") continue;   // ties are kinks: no derivative there
    const std::string name = c.name;
    CAPTURE(name);
    Tensor x = uniform(Shape(c.x.shape), -2, 2, 12);
    CHECK_GRADCHECK([&c](const std::vector<Tensor>& v) { return c.fn(v[0]); }, {x});
  }
}

TEST_CASE("pools read an NHWC tensor permuted to NCHW") {
  for (DType dt : {kFloat64, kFloat32}) {
    CAPTURE(dt);
    const double tol = dt == kFloat64 ? 1e-12 : 1e-6;
    Tensor x = R::pool_nhwc_x.tensor(dt).permute({0, 3, 1, 2});
    REQUIRE_FALSE(x.is_contiguous());
    check_ref(max_pool2d(x, 3, 2, 1), R::pool_nhwc_max, tol, tol);
    check_ref(avg_pool2d(x, 3, 2, 1, false, false), R::pool_nhwc_avg, tol, tol);
  }
  CHECK_GRADCHECK([](const std::vector<Tensor>& v) { return max_pool2d(v[0].permute({0, 3, 1, 2}), 2, 1); },
                  {uniform({1, 4, 5, 2}, -2, 2, 13)});
  CHECK_GRADCHECK([](const std::vector<Tensor>& v) { return avg_pool2d(v[0].transpose(2, 3), 3, 2, 1); },
                  {uniform({1, 2, 5, 6}, -2, 2, 14)});
}

TEST_CASE("max_pool2d propagates NaN like PyTorch") {
  Tensor x = from_vector<double>({1, NAN, 3, 2}, Shape{1, 1, 2, 2});
  auto [y, idx] = max_pool2d_with_indices(x, 2);
  CHECK(std::isnan(y.item_double()));
  CHECK(idx.item_double() == 1);
}

// ---- determinism and errors ----------------------------------------------------------------------------

TEST_CASE("conv2d and the pools are bitwise identical for 1 and 2 threads") {
  ThreadGuard guard;
  Tensor x0 = uniform({16, 8, 32, 32}, -1, 1, 15, kFloat32), w0 = uniform({16, 4, 3, 3}, -1, 1, 16, kFloat32);
  Tensor b0 = uniform({16}, -1, 1, 17, kFloat32), dy = uniform({16, 16, 16, 16}, -1, 1, 18, kFloat32);
  auto run = [&] {
    Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    Tensor y = conv2d(x, w, b, 2, 1, 1, 2);
    Tensor p = max_pool2d(x, 3, 2, 1) + avg_pool2d(x, 3, 2, 1, false, false);
    ((y * dy).sum() + p.sum()).backward();
    return std::vector<Tensor>{y, p, x.grad(), w.grad(), b.grad()};
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(one[i].to_vector<float>() == two[i].to_vector<float>());
  }
}

TEST_CASE("conv2d rejects bad arguments with messages showing the shapes") {
  Tensor x = zeros({2, 3, 5, 5}), w = zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d(zeros({3, 5}), w),
                       doctest::Contains("[conv2d] expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) "
                                         "input, got [3, 5]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 3})),
                       doctest::Contains("[conv2d] expected weight with 4 dims [C_out, C_in/groups, kH, kW], got "
                                         "[4, 3, 3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 4, 3, 3})),
                       doctest::Contains("[conv2d] input [2, 3, 5, 5] has 3 channels but weight [4, 4, 3, 3] expects 4 "
                                         "(groups=1)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({2, 4, 5, 5}), zeros({3, 2, 3, 3}), {}, 1, 0, 1, 2),
                       doctest::Contains("[conv2d] weight [3, 2, 3, 3] has C_out = 3, which is not divisible by "
                                         "groups = 2"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({3})), doctest::Contains("[conv2d] bias must be [C_out] = [4], got [3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w.to(kFloat64)), doctest::Contains("[conv2d] input is float32 but weight is float64"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 0), doctest::Contains("[conv2d] stride must be positive, got (0, 0)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 1, {-1, 0}),
                       doctest::Contains("[conv2d] padding must be non-negative, got (-1, 0)"), atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 1, 0, 1, 0), doctest::Contains("[conv2d] groups must be positive, got 0"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({2, 3, 2, 5}), w),
                       doctest::Contains("[conv2d] output size would be 0x3: input [2, 3, 2, 5] padded by (0, 0) is "
                                         "2x5 per channel, smaller than the kernel 3x3 with dilation (1, 1)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 1, 0, 3), doctest::Contains("[conv2d] output size would be -1x-1"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({2, 3, 5, 5}, {.dtype = kInt64}), w),
                       doctest::Contains("[conv2d] expects a float32 or float64 input, got int64"), atto::Error);
}

TEST_CASE("pools reject bad arguments with messages showing the sizes") {
  Tensor x = zeros({1, 2, 5, 5});
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({5, 5}), 2),
                       doctest::Contains("[max_pool2d] expected a 3-D (unbatched [C, H, W]) or 4-D"), atto::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 0), doctest::Contains("[max_pool2d] kernel_size must be positive, got (0, 0)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 2, {0, 1}), doctest::Contains("[avg_pool2d] stride must be positive, got (0, 1)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 2, 2, 2),
                       doctest::Contains("[max_pool2d] padding (2, 2) must be at most half the kernel size (2, 2)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, {3, 2}, 1, {0, 2}),
                       doctest::Contains("[avg_pool2d] padding (0, 2) must be at most half the kernel size (3, 2)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 6),
                       doctest::Contains("[max_pool2d] output size would be 0x0 for input [1, 2, 5, 5] (kernel (6, 6)"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 2, 1, 0, 0), doctest::Contains("[max_pool2d] dilation must be positive"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 0, 5, 5}), 2),
                       doctest::Contains("[max_pool2d] expected non-empty channel and spatial dims (only N may be 0), "
                                         "got [1, 0, 5, 5]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 2, {}, 0, false, true, 0),
                       doctest::Contains("[avg_pool2d] divisor_override must be non-zero"), atto::Error);
}
