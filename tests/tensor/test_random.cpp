// tests/tensor/test_random.cpp -- the Philox generator (known answers, stream layout, state,
// thread-count independence), the random creators and fills (statistics), and dropout.
//
// Values are not compared with PyTorch: our streams differ from PyTorch's by design (tensor/random.h).
// Statistical checks use 5-sigma bounds, so a correct implementation fails them with probability
// below 1e-6 per check -- and the seeds are fixed, so the outcome is deterministic anyway.
#include <cstring>

#include "tensor/cpu/random.h"
#include "test_util.h"

using namespace atto;

namespace {

// Bitwise equality of two tensors' contents (same dtype and shape).
bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), size_t(ca.numel()) * ca.element_size()) == 0;
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= double(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= double(v.size() - 1);
  return m;
}

// Restores the thread count a test changed.
struct ThreadsGuard {
  int saved = get_num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
  // Random123's kat_vectors, the three "philox4x32 10" lines (published test vectors).
  struct Kat {
    Philox4x32 ctr;
    uint32_t k0, k1;
    Philox4x32 want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const auto& k : kats) {
    Philox4x32 got = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int w = 0; w < 4; ++w) CHECK(got.v[w] == k.want.v[w]);
  }
}

TEST_CASE("rand follows the documented stream layout") {
  Generator g(123);
  Tensor f = rand({6}, {}, &g);
  CHECK(g.offset() == 2);   // 6 float32 values, 4 to a block
  for (int64_t i = 0; i < 6; ++i) {
    Philox4x32 block = philox_block(123, uint64_t(i / 4));
    CHECK(f.at({i}) == double(uniform_float(block.v[i % 4])));
  }
  Tensor d = rand({3}, {.dtype = kFloat64}, &g);   // continues at block 2, 2 values a block
  CHECK(g.offset() == 4);
  for (int64_t i = 0; i < 3; ++i) {
    Philox4x32 block = philox_block(123, uint64_t(2 + i / 2));
    CHECK(d.at({i}) == uniform_double(philox_u64(block.v[2 * (i % 2)], block.v[2 * (i % 2) + 1])));
  }
}

TEST_CASE("value i of a draw depends only on seed offset and i") {
  Generator g(7);
  Tensor all = rand({8}, {}, &g);
  g.manual_seed(7);
  Tensor first = rand({4}, {}, &g);
  Tensor second = rand({4}, {}, &g);
  CHECK(bitwise_equal(first, all.narrow(0, 0, 4)));
  CHECK(bitwise_equal(second, all.narrow(0, 4, 4)));
  g.manual_seed(7);
  Tensor prefix = rand({5}, {}, &g);   // a longer or shorter draw shares its prefix
  CHECK(bitwise_equal(prefix, all.narrow(0, 0, 5)));
  g.manual_seed(7);
  Tensor shaped = rand({2, 4}, {}, &g);   // the shape does not matter, only the C-order index
  CHECK(bitwise_equal(shaped.reshape({8}), all));
}

TEST_CASE("same seed gives the same numbers and different seeds differ") {
  auto draw = [](uint64_t seed) {
    Generator g(seed);
    return std::vector<Tensor>{rand({100}, {}, &g), randn({100}, {.dtype = kFloat64}, &g),
                               randint(0, 1000, {100}, {.dtype = kInt64}, &g), bernoulli(0.5, {100}, {}, &g),
                               normal(1.0, 2.0, {100}, {}, &g)};
  };
  auto a = draw(42), b = draw(42), c = draw(43);
  for (size_t k = 0; k < a.size(); ++k) {
    CHECK(bitwise_equal(a[k], b[k]));
    CHECK_FALSE(bitwise_equal(a[k], c[k]));
  }
  // The global generator: manual_seed rewinds it.
  manual_seed(5);
  Tensor x = randn({50});
  Tensor y = randn({50});
  CHECK_FALSE(bitwise_equal(x, y));   // successive draws move on
  manual_seed(5);
  CHECK(bitwise_equal(randn({50}), x));
  CHECK(default_generator().seed() == 5);
}

TEST_CASE("get_state and set_state resume a generator bitwise") {
  Generator g(99);
  rand({10}, {}, &g);
  GeneratorState saved = g.get_state();
  Tensor a = randn({33}, {}, &g);
  Tensor b = rand({17}, {.dtype = kFloat64}, &g);
  Generator other;   // a fresh generator restored from the state continues identically
  other.set_state(saved);
  CHECK(other.get_state() == saved);
  CHECK(bitwise_equal(randn({33}, {}, &other), a));
  CHECK(bitwise_equal(rand({17}, {.dtype = kFloat64}, &other), b));
  CHECK(other.get_state() == g.get_state());
}

TEST_CASE("random draws are bitwise identical with 1 and 2 threads") {
  ThreadsGuard guard;
  const Shape shape{1 << 19};   // large enough for parallel_for to split the blocks
  auto draw = [&] {
    Generator g(2024);
    Tensor strided = empty({512, 1024});
    uniform_(strided.t(), -2.0, 3.0, &g);
    return std::vector<Tensor>{rand(shape, {}, &g),
                               rand(shape, {.dtype = kFloat64}, &g),
                               randn(shape, {}, &g),
                               randn(shape, {.dtype = kFloat64}, &g),
                               randint(-5, 17, shape, {.dtype = kInt64}, &g),
                               bernoulli(0.3, shape, {}, &g),
                               strided,
                               dropout(ones(shape), 0.25, true, &g)};
  };
  set_num_threads(1);
  auto one = draw();
  set_num_threads(2);
  auto two = draw();
  for (size_t k = 0; k < one.size(); ++k) CHECK_MESSAGE(bitwise_equal(one[k], two[k]), "draw " << k);
}

TEST_CASE("rand is uniform on 0 to 1 and randn is standard normal") {
  const int64_t n = 100000;
  for (DType dt : {kFloat32, kFloat64}) {
    Generator g(11);
    Tensor u = rand({n}, {.dtype = dt}, &g);
    CHECK(u.dtype() == dt);
    std::vector<double> uv = u.to_vector<double>();
    CHECK(*std::min_element(uv.begin(), uv.end()) >= 0.0);
    CHECK(*std::max_element(uv.begin(), uv.end()) < 1.0);
    Moments mu = moments(u);
    // mean of U[0,1): 1/2, standard error sqrt(1/12 / n); variance 1/12, s.e. ~ sqrt(1/180 / n).
    CHECK(std::abs(mu.mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    CHECK(std::abs(mu.var - 1.0 / 12) < 5 * std::sqrt(1.0 / 180 / n));

    Tensor z = randn({n}, {.dtype = dt}, &g);
    Moments mz = moments(z);
    // mean 0 with s.e. 1/sqrt(n); variance 1 with s.e. sqrt(2/n).
    CHECK(std::abs(mz.mean) < 5 / std::sqrt(double(n)));
    CHECK(std::abs(mz.var - 1.0) < 5 * std::sqrt(2.0 / n));
    // The shape, not just two moments: P(|Z| < 1) = 0.682689..., a binomial proportion.
    std::vector<double> zv = z.to_vector<double>();
    double inside = double(std::count_if(zv.begin(), zv.end(), [](double x) { return std::abs(x) < 1; })) / n;
    const double p = std::erf(1 / std::sqrt(2.0));
    CHECK(std::abs(inside - p) < 5 * std::sqrt(p * (1 - p) / n));

    Tensor w = normal(2.0, 3.0, {n}, {.dtype = dt}, &g);
    Moments mw = moments(w);
    CHECK(std::abs(mw.mean - 2.0) < 5 * 3.0 / std::sqrt(double(n)));
    CHECK(std::abs(mw.var - 9.0) < 5 * 9.0 * std::sqrt(2.0 / n));
  }
}

TEST_CASE("randint covers low to high-1 uniformly") {
  const int64_t n = 60000;
  Generator g(3);
  Tensor r = randint(-2, 4, {n}, {.dtype = kInt64}, &g);
  CHECK(r.dtype() == kInt64);
  std::vector<int64_t> v = r.to_vector<int64_t>();
  std::vector<int64_t> counts(6, 0);
  for (int64_t x : v) {
    REQUIRE(x >= -2);
    REQUIRE(x < 4);
    ++counts[size_t(x + 2)];
  }
  for (int64_t c : counts) CHECK(std::abs(double(c) / n - 1.0 / 6) < 5 * std::sqrt(1.0 / 6 * 5.0 / 6 / n));
  CHECK(randint(10, {3, 4}).dtype() == kInt64);   // the default dtype, as torch.randint
  Tensor f = randint(0, 5, {100}, {.dtype = kFloat32}, &g);
  std::vector<double> fv = f.to_vector<double>();
  for (double x : fv) CHECK(x == std::floor(x));
  // A range wider than 2^32 stays in bounds.
  Tensor big = randint(-(int64_t(1) << 40), int64_t(1) << 40, {1000}, {.dtype = kInt64}, &g);
  for (int64_t x : big.to_vector<int64_t>()) CHECK((x >= -(int64_t(1) << 40) && x < (int64_t(1) << 40)));
  CHECK_THROWS_WITH_AS(randint(3, 3, {2}), doctest::Contains("[randint]"), atto::Error);
}

TEST_CASE("bernoulli frequencies follow p") {
  const int64_t n = 100000;
  Generator g(17);
  Tensor b = bernoulli(0.3, {n}, {}, &g);
  CHECK(b.dtype() == kFloat32);
  std::vector<double> v = b.to_vector<double>();
  for (double x : v) REQUIRE((x == 0.0 || x == 1.0));
  double freq = moments(b).mean;
  CHECK(std::abs(freq - 0.3) < 5 * std::sqrt(0.3 * 0.7 / n));

  // Elementwise p: p = 0 never fires, p = 1 always does; the result takes p's shape and dtype.
  Tensor p = tensor({0.0, 1.0, 0.5}, {.dtype = kFloat64}).reshape({3, 1}).expand({3, 20000});
  Tensor e = bernoulli(p, &g);
  CHECK(e.dtype() == kFloat64);
  CHECK(e.shape() == p.shape());
  Tensor rows = e.mean({1});
  CHECK(rows.at({0}) == 0.0);
  CHECK(rows.at({1}) == 1.0);
  CHECK(std::abs(rows.at({2}) - 0.5) < 5 * std::sqrt(0.25 / 20000));

  CHECK(bernoulli(0.5, {4}, {.dtype = kBool}, &g).dtype() == kBool);
  CHECK_THROWS_WITH_AS(bernoulli(1.5, {2}), doctest::Contains("[bernoulli]"), atto::Error);
  CHECK_THROWS_WITH_AS(bernoulli(tensor({0.5, -0.1})), doctest::Contains("[bernoulli]"), atto::Error);
  CHECK_THROWS_WITH_AS(bernoulli(tensor({0.5, NAN})), doctest::Contains("[bernoulli]"), atto::Error);
}

TEST_CASE("uniform_ and normal_ fill non-contiguous views in C order") {
  Generator g(8);
  Tensor base = zeros({4, 6});
  Tensor view = base.t().slice(0, 1, 6, 2);   // shape [3, 4], strides [2, 6]
  REQUIRE_FALSE(view.is_contiguous());
  GeneratorState s = g.get_state();
  uniform_(view, -1.0, 1.0, &g);
  g.set_state(s);
  Tensor want = rand({3, 4}, {}, &g) * 2.0 + (-1.0);
  CHECK_ALLCLOSE(view, want, 1e-6, 1e-6);
  // Elements outside the view (column 0 and the odd columns of base.t() rows) are untouched.
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j : {0, 2, 4}) CHECK(base.at({i, j}) == 0.0);

  g.set_state(s);
  normal_(view, 3.0, 0.5, &g);
  g.set_state(s);
  Tensor want_n = randn({3, 4}, {}, &g) * 0.5 + 3.0;
  CHECK_ALLCLOSE(view, want_n, 1e-6, 1e-6);

  Tensor d = empty({2000}, {.dtype = kFloat64});
  uniform_(d, 5.0, 7.0, &g);
  std::vector<double> v = d.to_vector<double>();
  for (double x : v) REQUIRE((x >= 5.0 && x < 7.0));

  uniform_(base.narrow(0, 0, 2), 10.0, 11.0, &g);   // a temporary view writes through to base
  CHECK(base.at({1, 5}) >= 10.0);
}

TEST_CASE("random in-place fills respect grad mode") {
  Tensor w = zeros({3, 3}, {.requires_grad = true});
  CHECK_THROWS_WITH_AS(uniform_(w, 0.0, 1.0), doctest::Contains("[uniform_]"), atto::Error);
  CHECK_THROWS_WITH_AS(normal_(w), doctest::Contains("[normal_]"), atto::Error);
  CHECK_THROWS_WITH_AS(bernoulli_(w, 0.5), doctest::Contains("[bernoulli_]"), atto::Error);
  {
    NoGradGuard no_grad;
    normal_(w, 0.0, 1.0);
    uniform_(w.t(), 2.0, 3.0);
  }
  CHECK(w.requires_grad());
  for (double x : w.to_vector<double>()) CHECK((x >= 2.0 && x < 3.0));
}

TEST_CASE("random creators reject bad arguments") {
  CHECK_THROWS_WITH_AS(rand({2}, {.dtype = kInt64}), doctest::Contains("[rand]"), atto::Error);
  CHECK_THROWS_WITH_AS(randn({2}, {.dtype = kBool}), doctest::Contains("[randn]"), atto::Error);
  CHECK_THROWS_WITH_AS(normal(0.0, -1.0, {2}), doctest::Contains("[normal]"), atto::Error);
  CHECK_THROWS_WITH_AS(rand({-1}), doctest::Contains("[empty]"), atto::Error);
  Tensor t = zeros({2});
  CHECK_THROWS_WITH_AS(uniform_(t, 1.0, 0.0), doctest::Contains("[uniform_]"), atto::Error);
  CHECK_THROWS_WITH_AS(normal_(zeros({3, 1}).expand({3, 4})), doctest::Contains("[normal_]"), atto::Error);
  CHECK_THROWS_WITH_AS(uniform_(zeros({2}, {.dtype = kInt64})), doctest::Contains("[uniform_]"), atto::Error);
  Tensor r = rand({2, 3}, {.dtype = kFloat64, .requires_grad = true});
  CHECK(r.requires_grad());
  CHECK(r.is_leaf());
}

// ---- dropout ---------------------------------------------------------------------------------------

TEST_CASE("dropout zeroes with probability p and scales the rest by 1 over 1-p") {
  const int64_t n = 100000;
  for (DType dt : {kFloat32, kFloat64}) {
    Generator g(21);
    Tensor x = ones({n}, {.dtype = dt});
    Tensor y = dropout(x, 0.4, true, &g);
    CHECK(y.dtype() == dt);
    std::vector<double> v = y.to_vector<double>();
    const double scale = dt == kFloat32 ? double(float(1.0 / 0.6)) : 1.0 / 0.6;
    int64_t zeros_seen = 0;
    for (double e : v) {
      REQUIRE((e == 0.0 || e == scale));
      zeros_seen += e == 0.0;
    }
    CHECK(std::abs(double(zeros_seen) / n - 0.4) < 5 * std::sqrt(0.4 * 0.6 / n));
  }
}

TEST_CASE("dropout is the identity in eval mode or with p 0 and zeros with p 1") {
  Tensor x = testing::uniform({3, 4}, -1, 1, 1, kFloat32);
  CHECK(dropout(x, 0.5, false).is_same(x));
  CHECK(dropout(x, 0.0, true).is_same(x));
  Tensor xr = testing::uniform({3, 4}, -1, 1, 2).requires_grad_(true);
  Tensor z = dropout(xr, 1.0, true);
  for (double e : z.to_vector<double>()) CHECK(e == 0.0);
  z.sum().backward();
  for (double e : xr.grad().to_vector<double>()) CHECK(e == 0.0);
}

TEST_CASE("dropout backward reuses the forward mask") {
  Generator g(5);
  Tensor x = ones({1000}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = dropout(x, 0.3, true, &g);
  CHECK(std::string(y.grad_fn()->name()) == "DropoutBackward");
  y.sum().backward();
  CHECK(bitwise_equal(x.grad(), y.detach()));   // x = 1, so y is the mask itself: dy/dx = mask
}

TEST_CASE("dropout gradcheck with a fixed mask") {
  Generator g;
  auto fn = [&](const std::vector<Tensor>& in) {
    g.manual_seed(1234);   // the same mask on every call, so finite differences see one function
    return dropout(in[0], 0.35, true, &g);
  };
  CHECK_GRADCHECK(fn, {testing::uniform({4, 5}, -2, 2, 3)});
  // A non-contiguous input: the transposed view reaches dropout.
  auto fn_t = [&](const std::vector<Tensor>& in) {
    g.manual_seed(99);
    return dropout(in[0].t(), 0.35, true, &g);
  };
  CHECK_GRADCHECK(fn_t, {testing::uniform({5, 4}, -2, 2, 4)});
}

TEST_CASE("dropout on a non-contiguous input masks in C order") {
  Generator g(77);
  Tensor x = testing::uniform({6, 5}, -1, 1, 9, kFloat32);
  GeneratorState s = g.get_state();
  Tensor a = dropout(x.t(), 0.5, true, &g);
  g.set_state(s);
  Tensor b = dropout(x.t().contiguous(), 0.5, true, &g);
  CHECK(bitwise_equal(a, b));
}

TEST_CASE("dropout rejects bad p and non-floating input") {
  Tensor x = ones({2, 3});
  CHECK_THROWS_WITH_AS(dropout(x, 1.5), doctest::Contains("[dropout]"), atto::Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1), doctest::Contains("[2, 3]"), atto::Error);
  CHECK_THROWS_WITH_AS(dropout(ones({2}, {.dtype = kInt64}), 0.5), doctest::Contains("[dropout]"), atto::Error);
}
