// tests/cuda/test_random.cpp -- the CUDA random kernels (cuda/random.cu) against the CPU's
// (tensor/cpu/random.h): for the same generator state, uniform, randint, bernoulli and dropout
// masks are bitwise the CPU's, normals agree to 1e-6 (log/cos/sin may differ in the last bit), and
// the generator's offset moves on by the same number of blocks on both devices.
#include <cstring>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

// Bitwise equality of a tensor (any device) with a CPU reference of the same dtype and shape.
bool bitwise_equal(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) return false;
  Tensor a = got.cpu().contiguous(), b = want.contiguous();
  return std::memcmp(a.raw_data(), b.raw_data(), size_t(a.numel()) * a.element_size()) == 0;
}

// Shapes of awkward sizes: a vector, and a matrix whose element count is odd or not a multiple of 4
// (a Philox block split between two rows).
std::vector<Shape> awkward_shapes() {
  std::vector<Shape> shapes;
  for (int64_t n : kAwkwardSizes) {
    shapes.push_back({n});
    shapes.push_back({n, 3});
  }
  shapes.push_back({4099});
  return shapes;
}

const TensorOptions kCudaF32{.dtype = kFloat32, .device = kCUDA};
const TensorOptions kCudaF64{.dtype = kFloat64, .device = kCUDA};

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: rand and uniform_ are bitwise the CPU's for the same generator state") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    for (const Shape& shape : awkward_shapes()) {
      INFO(fmt::format("{} {}", dt, shape));
      Generator gc(1234), gg(1234);
      Tensor c = rand(shape, {.dtype = dt}, &gc);
      Tensor g = rand(shape, {.dtype = dt, .device = kCUDA}, &gg);
      CHECK(g.device().is_cuda());
      CHECK(bitwise_equal(g, c));
      CHECK(gc.get_state() == gg.get_state());
      // A second draw continues from the advanced offset on both devices.
      Tensor c2 = uniform_(empty(shape, {.dtype = dt}), -3.0, 5.0, &gc);
      Tensor g2 = uniform_(empty(shape, {.dtype = dt, .device = kCUDA}), -3.0, 5.0, &gg);
      CHECK(bitwise_equal(g2, c2));
      CHECK(gc.get_state() == gg.get_state());
    }
  }
}

TEST_CASE("cuda: randint is bitwise the CPU's for every numeric dtype") {
  ATTO_REQUIRE_CUDA();
  struct Range {
    int64_t low, high;
  };
  // A small range, a negative one, and one past 2^32 (the modulo needs all 64 bits).
  const Range ranges[] = {{0, 10}, {-50, 7}, {-(int64_t(1) << 40), int64_t(1) << 41}};
  for (DType dt : {kInt64, kFloat32, kFloat64}) {
    for (const Range& r : ranges) {
      for (const Shape& shape : awkward_shapes()) {
        INFO(fmt::format("{} {} [{}, {})", dt, shape, r.low, r.high));
        Generator gc(99), gg(99);
        Tensor c = randint(r.low, r.high, shape, {.dtype = dt}, &gc);
        Tensor g = randint(r.low, r.high, shape, {.dtype = dt, .device = kCUDA}, &gg);
        CHECK(g.device().is_cuda());
        CHECK(bitwise_equal(g, c));
        CHECK(gc.get_state() == gg.get_state());
      }
    }
  }
}

TEST_CASE("cuda: bernoulli with one p or a tensor of p is bitwise the CPU's") {
  ATTO_REQUIRE_CUDA();
  for (const Shape& shape : awkward_shapes()) {
    INFO(fmt::format("{}", shape));
    // One probability, every output dtype.
    for (DType dt : {kFloat32, kFloat64, kInt64, kBool}) {
      INFO(fmt::format("{}", dt));
      Generator gc(5), gg(5);
      Tensor c = bernoulli(0.3, shape, {.dtype = dt}, &gc);
      Tensor g = bernoulli(0.3, shape, {.dtype = dt, .device = kCUDA}, &gg);
      CHECK(bitwise_equal(g, c));
      CHECK(gc.get_state() == gg.get_state());
    }
    // A tensor of probabilities (the kernel reads them from device memory), float32 and float64.
    for (DType dt : {kFloat32, kFloat64}) {
      INFO(fmt::format("{}", dt));
      Tensor p = uniform(shape, 0.0, 1.0, 17, dt);
      Generator gc(6), gg(6);
      Tensor c = bernoulli(p, &gc);
      Tensor g = bernoulli(p.to(kCUDA), &gg);
      CHECK(g.device().is_cuda());
      CHECK(bitwise_equal(g, c));
      CHECK(gc.get_state() == gg.get_state());
    }
  }
  // Probabilities in a non-contiguous CUDA view: taken in C order, as on the CPU.
  Tensor base = uniform({37, 5}, 0.0, 1.0, 18, kFloat64);
  Tensor pc = base.t(), pg = base.to(kCUDA).t();
  CHECK_FALSE(pg.is_contiguous());
  Generator gc(7), gg(7);
  CHECK(bitwise_equal(bernoulli(pg, &gg), bernoulli(pc, &gc)));
  // A bad probability is reported before any kernel runs, naming the element.
  Tensor bad = tensor({0.5, 1.5}).to(kCUDA);
  CHECK_THROWS_WITH_AS(bernoulli(bad, &gg), doctest::Contains("got 1.5 at flat index 1"), Error);
}

TEST_CASE("cuda: normals match the CPU's to 1e-6 and advance the generator alike") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    for (const Shape& shape : awkward_shapes()) {
      INFO(fmt::format("{} {}", dt, shape));
      Generator gc(2024), gg(2024);
      Tensor c = randn(shape, {.dtype = dt}, &gc);
      Tensor g = randn(shape, {.dtype = dt, .device = kCUDA}, &gg);
      CHECK(g.device().is_cuda());
      CHECK_ALLCLOSE(g, c, 1e-6, 1e-12);
      CHECK(gc.get_state() == gg.get_state());
      Tensor c2 = normal(1.5, 0.25, shape, {.dtype = dt}, &gc);
      Tensor g2 = normal(1.5, 0.25, shape, {.dtype = dt, .device = kCUDA}, &gg);
      CHECK_ALLCLOSE(g2, c2, 1e-6, 1e-12);
      CHECK(gc.get_state() == gg.get_state());
    }
  }
  // The default generator serves both devices.
  manual_seed(11);
  Tensor c = randn({1025});
  manual_seed(11);
  Tensor g = randn({1025}, kCudaF32);
  CHECK_ALLCLOSE(g, c, 1e-6, 1e-12);
}

TEST_CASE("cuda: fills of non-contiguous views get the CPU's values in C order") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    INFO(fmt::format("{}", dt));
    auto views = [](const Tensor& base) {   // the same views of a CPU base and a CUDA base
      return std::vector<Tensor>{base.t(), base.slice(0, 1, std::nullopt, 3), base.slice(1, 0, 37, 2).t(),
                                 base.narrow(1, 5, 20)};
    };
    Tensor bc = zeros({37, 41}, {.dtype = dt});
    Tensor bg = zeros({37, 41}, {.dtype = dt, .device = kCUDA});
    std::vector<Tensor> vc = views(bc), vg = views(bg);
    Generator gc(3), gg(3);
    for (size_t k = 0; k < vc.size(); ++k) {
      CAPTURE(k);
      CHECK(vg[k].device().is_cuda());
      uniform_(vc[k], -1.0, 1.0, &gc);
      uniform_(vg[k], -1.0, 1.0, &gg);
      CHECK(bitwise_equal(bg, bc));   // the whole base: elements outside the view stay as they were
      bernoulli_(vc[k], 0.7, &gc);
      bernoulli_(vg[k], 0.7, &gg);
      CHECK(bitwise_equal(bg, bc));
      normal_(vc[k], 0.0, 2.0, &gc);
      normal_(vg[k], 0.0, 2.0, &gg);
      CHECK_ALLCLOSE(bg, bc, 1e-6, 1e-12);
      CHECK(gc.get_state() == gg.get_state());
    }
  }
  // An expanded CUDA tensor is refused, as on the CPU.
  Tensor expanded = zeros({1, 4}, kCudaF32).expand({3, 4});
  CHECK_THROWS_WITH_AS(uniform_(expanded), doctest::Contains("cannot fill an expanded tensor"), Error);
}

TEST_CASE("cuda: dropout draws the CPU's mask and the same mask on every run") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64}) {
    for (const Shape& shape : awkward_shapes()) {
      INFO(fmt::format("{} {}", dt, shape));
      Tensor x = uniform(shape, -2.0, 2.0, 21, dt);
      Tensor xc = x.clone().requires_grad_(true);
      Tensor xg = x.to(kCUDA).requires_grad_(true);
      Generator gc(77), gg(77);
      Tensor yc = dropout(xc, 0.3, true, &gc);
      Tensor yg = dropout(xg, 0.3, true, &gg);
      CHECK(yg.device().is_cuda());
      CHECK(bitwise_equal(yg.detach(), yc.detach()));   // x * mask: one correctly rounded product
      CHECK(gc.get_state() == gg.get_state());
      // The mask itself (dropout of ones), and the gradient, which is the mask.
      Generator gm(77);
      Tensor mask = dropout(ones(shape, {.dtype = dt, .device = kCUDA}), 0.3, true, &gm);
      Generator gm_cpu(77);
      CHECK(bitwise_equal(mask, dropout(ones(shape, {.dtype = dt}), 0.3, true, &gm_cpu)));
      yc.backward(ones_like(yc));
      yg.backward(ones_like(yg));
      CHECK(xg.grad().device().is_cuda());
      CHECK(bitwise_equal(xg.grad(), xc.grad()));
      CHECK(bitwise_equal(xg.grad(), mask.cpu()));
      // Same seed, same mask: a second run from a fresh generator repeats it.
      Generator again(77);
      CHECK(bitwise_equal(dropout(xg.detach(), 0.3, true, &again), yg.detach().cpu()));
    }
  }
  // p == 1 zeroes everything; eval mode and p == 0 return x itself and draw nothing.
  Generator g(1);
  Tensor x = ones({37}, kCudaF32);
  CHECK(dropout(x, 1.0, true, &g).cpu().to_vector<double>() == std::vector<double>(37, 0.0));
  const uint64_t offset = g.offset();
  CHECK(dropout(x, 0.5, false, &g).is_same(x));
  CHECK(dropout(x, 0.0, true, &g).is_same(x));
  CHECK(g.offset() == offset);
}

TEST_CASE("cuda: one generator drawing on both devices in turn continues one stream") {
  ATTO_REQUIRE_CUDA();
  Generator mixed(31), cpu_only(31);
  const std::vector<int64_t> sizes = {5, 1025, 37, 2, 1};
  for (size_t k = 0; k < sizes.size(); ++k) {
    CAPTURE(k);
    const bool on_gpu = k % 2 == 0;
    const Shape shape{sizes[k]};
    Tensor a = rand(shape, on_gpu ? kCudaF32 : TensorOptions{}, &mixed);
    Tensor b = rand(shape, {}, &cpu_only);
    CHECK(a.device().is_cuda() == on_gpu);
    CHECK(bitwise_equal(a, b));
    Tensor ia = randint(-3, 1000, shape, {.dtype = kInt64, .device = on_gpu ? kCUDA : kCPU}, &mixed);
    CHECK(bitwise_equal(ia, randint(-3, 1000, shape, {.dtype = kInt64}, &cpu_only)));
    Tensor na = randn(shape, on_gpu ? kCudaF64 : TensorOptions{.dtype = kFloat64}, &mixed);
    CHECK_ALLCLOSE(na, randn(shape, {.dtype = kFloat64}, &cpu_only), 1e-6, 1e-12);
    CHECK(mixed.get_state() == cpu_only.get_state());
  }
  // Empty draws launch nothing and reserve nothing.
  const GeneratorState before = mixed.get_state();
  CHECK(rand({0}, kCudaF32, &mixed).numel() == 0);
  CHECK(randn({0, 3}, kCudaF64, &mixed).numel() == 0);
  CHECK(bernoulli(0.5, {0}, kCudaF32, &mixed).numel() == 0);
  CHECK(mixed.get_state() == before);
}

}  // TEST_SUITE("cuda")
