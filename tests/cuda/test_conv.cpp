// tests/cuda/test_conv.cpp -- conv2d, max_pool2d and avg_pool2d on CUDA (cuda/conv.cu) against the
// CPU: forward and every gradient, with stride, padding, dilation and groups, batches cut into
// im2col chunks, unbatched and permuted inputs, float32 and float64.
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

using Fn = TensorsFn;

// Values in {-2, -1, 0, 1, 2}, scrambled: many ties within any window.
Tensor tie_grid(const Shape& shape, DType dtype) {
  std::vector<double> v(size_t(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double((i * 7919 + i / 13) % 5) - 2.0;
  return from_vector<double>(v, shape).to(dtype);
}

struct ConvCase {
  const char* name;
  Shape x, w;
  bool bias;
  Size2 stride, padding, dilation;
  int64_t groups;
};

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: conv2d with stride padding dilation and groups matches the CPU") {
  ATTO_REQUIRE_CUDA();
  const ConvCase cases[] = {
      {"3x3 same", {2, 3, 37, 37}, {5, 3, 3, 3}, true, 1, 1, 1, 1},
      {"strided dilated padded groups", {2, 4, 9, 11}, {6, 2, 3, 2}, true, {2, 1}, {1, 2}, {2, 1}, 2},
      {"depthwise no bias", {3, 6, 13, 7}, {6, 1, 3, 3}, false, 2, 1, 1, 6},
      {"1x1 over a wide row", {1, 3, 1, 1025}, {4, 3, 1, 1}, true, 1, 0, 1, 1},
      {"kernel wider than stride", {2, 2, 10, 10}, {3, 2, 5, 4}, true, {3, 2}, {2, 0}, {1, 2}, 1},
      {"one output pixel", {4, 3, 5, 5}, {2, 3, 5, 5}, true, 1, 0, 1, 1},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const ConvCase& c : cases) {
      CAPTURE(dtype);
      CAPTURE(c.name);
      std::vector<Tensor> in = {uniform(c.x, -1, 1, 1, dtype), uniform(c.w, -1, 1, 2, dtype)};
      if (c.bias) in.push_back(uniform({c.w[0]}, -1, 1, 3, dtype));
      const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
      check_on_cuda(in,
                    [&](const std::vector<Tensor>& v) {
                      return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor{}, c.stride, c.padding, c.dilation,
                                    c.groups);
                    },
                    tol, tol);
    }
  }
}

TEST_CASE("cuda: conv2d over batches cut into im2col chunks matches the CPU") {
  ATTO_REQUIRE_CUDA();
  // cuda/conv.cu takes as many images per chunk as fit 2^24 column elements: C * 9 * H * W per image.
  // 12 channels of 1025 x 64 -> 7.1M elements: chunks of 2 images, the last one alone (both the
  // side-by-side path and the in-place one). 16 channels -> 9.4M: one image per chunk.
  for (int64_t C : {12, 16}) {
    CAPTURE(C);
    std::vector<Tensor> in = {uniform({3, C, 1025, 64}, -1, 1, 4, kFloat32), uniform({4, C, 3, 3}, -1, 1, 5, kFloat32),
                              uniform({4}, -1, 1, 6, kFloat32)};
    // K = C * 9 <= 144 terms per output; dW sums 3 * 1025 * 64 terms: atol grows with it.
    check_on_cuda(in, [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 1, 1); }, 1e-5, 1e-3);
  }
}

TEST_CASE("cuda: conv2d takes unbatched and permuted inputs") {
  ATTO_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
    check_on_cuda({uniform({3, 37, 37}, -1, 1, 7, dtype), uniform({4, 3, 3, 3}, -1, 1, 8, dtype)},
                  [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], {}, 2, 1); }, tol, tol);
    // an NHWC tensor viewed as NCHW (copied to contiguous on the GPU), and a transposed kernel
    check_on_cuda({uniform({2, 9, 10, 3}, -1, 1, 9, dtype), uniform({4, 3, 3, 2}, -1, 1, 10, dtype),
                   uniform({4}, -1, 1, 11, dtype)},
                  [](const std::vector<Tensor>& v) {
                    return conv2d(v[0].permute({0, 3, 1, 2}), v[1].transpose(2, 3), v[2], 1, 1);
                  },
                  tol, tol);
  }
}

TEST_CASE("cuda: max_pool2d matches the CPU bitwise with its indices and gradient") {
  ATTO_REQUIRE_CUDA();
  struct PoolCase {
    Size2 k, s, p, d;
    bool ceil;
  };
  const PoolCase cases[] = {
      {2, {}, 0, 1, false}, {3, 2, 1, 1, false}, {3, 2, 1, 2, true}, {{3, 2}, {1, 2}, {1, 0}, {1, 3}, true},
      {5, 3, 2, 1, true},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t n : kAwkwardSizes) {
      for (const PoolCase& c : cases) {
        CAPTURE(dtype);
        CAPTURE(n);
        // n planes of 9 x 37, values on a coarse grid so that windows have tied maxima (the first
        // one wins, as on the CPU)
        Tensor x = tie_grid({1, n, 9, 37}, dtype);
        Tensor xg = x.to(kCUDA);
        auto [yc, ic] = max_pool2d_with_indices(x, c.k, c.s, c.p, c.d, c.ceil);
        auto [yg, ig] = max_pool2d_with_indices(xg, c.k, c.s, c.p, c.d, c.ceil);
        CHECK_ALLCLOSE(yg, yc, 0.0, 0.0);
        CHECK(ig.cpu().to_vector<int64_t>() == ic.to_vector<int64_t>());
        // every pixel's gradient sums the windows that chose it in the CPU's order: bitwise too
        check_on_cuda({x}, [&](const std::vector<Tensor>& v) { return max_pool2d(v[0], c.k, c.s, c.p, c.d, c.ceil); },
                      0.0, 0.0);
      }
    }
  }
  // a NaN is the max of every window that holds it
  Tensor x = uniform({1, 1, 7, 7}, -1, 1, 13);
  x.data_ptr<double>()[17] = std::nan("");
  CHECK_ALLCLOSE(max_pool2d(x.to(kCUDA), 3, 2, 1), max_pool2d(x, 3, 2, 1), 0.0, 0.0);
}

TEST_CASE("cuda: avg_pool2d matches the CPU with and without counting the padding") {
  ATTO_REQUIRE_CUDA();
  struct PoolCase {
    Size2 k, s, p;
    bool ceil, count_pad;
    std::optional<int64_t> divisor;
  };
  const PoolCase cases[] = {
      {2, {}, 0, false, true, std::nullopt}, {3, 2, 1, false, true, std::nullopt},
      {3, 2, 1, true, false, std::nullopt},  {{3, 2}, {1, 2}, {1, 0}, true, true, std::nullopt},
      {3, 3, 1, true, false, 5},             {5, 2, 2, false, false, std::nullopt},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t n : kAwkwardSizes) {
      for (const PoolCase& c : cases) {
        CAPTURE(dtype);
        CAPTURE(n);
        const double tol = dtype == kFloat32 ? 1e-6 : 1e-14;
        check_on_cuda({uniform({1, n, 9, 37}, -1, 1, 14, dtype)},
                      [&](const std::vector<Tensor>& v) {
                        return avg_pool2d(v[0], c.k, c.s, c.p, c.ceil, c.count_pad, c.divisor);
                      },
                      tol, tol);
      }
    }
  }
}

}  // TEST_SUITE("cuda")
