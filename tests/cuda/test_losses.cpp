// tests/cuda/test_losses.cpp -- the CUDA loss kernels (cuda/loss.cu) against the CPU ones
// (tensor/cpu/loss.h): cross_entropy (weights, ignore_index, label smoothing, every reduction),
// nll_loss, mse_loss, binary_cross_entropy_with_logits with weight and pos_weight; forward and
// backward, awkward class and row counts, non-contiguous and broadcast inputs, out-of-range targets,
// run-to-run determinism of the reduced loss.
#include <functional>
#include <random>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

constexpr DType kFloats[] = {kFloat32, kFloat64};
constexpr Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

double rtol(DType dt) { return dt == kFloat32 ? 1e-5 : 1e-10; }
double atol(DType dt) { return dt == kFloat32 ? 1e-6 : 1e-12; }

// n class targets in [0, C), every fifth replaced by `ignore` when given.
Tensor targets(int64_t n, int64_t C, uint64_t seed, std::optional<int64_t> ignore = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> u(0, C - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (size_t j = 0; j < v.size(); ++j) v[j] = ignore && j % 5 == 1 ? *ignore : u(rng);
  return from_vector<int64_t>(v);
}

// loss(inputs) on `dev`: fresh copies of the inputs there (clone: to(kCPU) of a CPU tensor is the
// tensor itself), those flagged in `grad` leaves that require grad; backward of sum(loss * proj) (proj of the loss's shape). Returns the loss and the gradients
// of the flagged inputs, all on the CPU.
std::vector<Tensor> run_on(Device dev, const std::vector<Tensor>& inputs, const std::vector<bool>& grad,
                           const std::function<Tensor(const std::vector<Tensor>&)>& loss, uint64_t seed) {
  std::vector<Tensor> in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    in.push_back(inputs[k].clone().to(dev));
    if (grad[k]) in.back().requires_grad_(true);
  }
  Tensor y = loss(in);
  Tensor proj = uniform(y.shape(), 0.5, 1.5, seed, y.dtype()).to(dev);
  (y * proj).sum().backward();
  std::vector<Tensor> out{y.cpu()};
  for (size_t k = 0; k < in.size(); ++k)
    if (grad[k]) out.push_back(in[k].grad().cpu());
  return out;
}

void check_same_as_cpu(const std::vector<Tensor>& inputs, const std::vector<bool>& grad,
                       const std::function<Tensor(const std::vector<Tensor>&)>& loss, uint64_t seed) {
  const DType dt = inputs[0].dtype();
  std::vector<Tensor> cpu = run_on(kCPU, inputs, grad, loss, seed);
  std::vector<Tensor> gpu = run_on(kCUDA, inputs, grad, loss, seed);
  REQUIRE(cpu.size() == gpu.size());
  for (size_t k = 0; k < cpu.size(); ++k) {
    CAPTURE(k);   // 0: the loss, then the gradients in input order
    CHECK_ALLCLOSE(gpu[k], cpu[k], rtol(dt), atol(dt));
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

const char* reduction_name(Reduction r) { return r == Reduction::None ? "none" : r == Reduction::Mean ? "mean" : "sum"; }

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: cross_entropy matches the CPU for every option and reduction") {
  ATTO_REQUIRE_CUDA();
  struct Shape2 { int64_t rows, C; };
  // Awkward class counts (1 class: every loss is 0 but gradients still flow) and row counts.
  for (Shape2 sh : {Shape2{37, 1}, Shape2{37, 37}, Shape2{5, 1025}, Shape2{1025, 37}, Shape2{1, 1025}})
    for (DType dt : kFloats) {
      CAPTURE(sh.rows);
      CAPTURE(sh.C);
      const std::string dtype{dtype_name(dt)};
      CAPTURE(dtype);
      Tensor x = uniform({sh.rows, sh.C}, -4, 4, 1, dt);
      Tensor w = uniform({sh.C}, 0.2, 2, 2, dt);
      struct Opt { const char* name; bool weight; int64_t ignore; bool ignored_targets; double smoothing; };
      for (Opt o : {Opt{"plain", false, -100, false, 0.0}, Opt{"weight", true, -100, false, 0.0},
                    Opt{"ignore_index", false, -100, true, 0.0}, Opt{"ignore 0", false, 0, false, 0.0},
                    Opt{"smoothing", false, -100, false, 0.1}, Opt{"all", true, -100, true, 0.25}})
        for (Reduction r : kReductions) {
          const std::string what = fmt::format("{} {}", o.name, reduction_name(r));
          CAPTURE(what);
          Tensor t = targets(sh.rows, sh.C, 3, o.ignored_targets ? std::optional<int64_t>(o.ignore) : std::nullopt);
          check_same_as_cpu({x, t, w}, {true, false, false},
                            [&](const std::vector<Tensor>& in) {
                              return cross_entropy(in[0], in[1],
                                                   {.weight = o.weight ? in[2] : Tensor(), .ignore_index = o.ignore,
                                                    .label_smoothing = o.smoothing, .reduction = r});
                            },
                            4);
        }
    }
}

TEST_CASE("cuda: cross_entropy on 3-d and non-contiguous logits and huge logits matches the CPU") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats) {
    Tensor x3 = uniform({3, 37, 5}, -3, 3, 10, dt);   // classes on dim 1
    Tensor t3 = targets(15, 37, 11).reshape({3, 5});
    check_same_as_cpu({x3, t3}, {true, false},
                      [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], {.label_smoothing = 0.1}); },
                      12);
    Tensor xt = uniform({37, 1025}, -3, 3, 13, dt);   // logits (1025, 37) as a transpose
    Tensor t = targets(1025, 37, 14);
    check_same_as_cpu({xt, t}, {true, false},
                      [](const std::vector<Tensor>& in) { return cross_entropy(in[0].t(), in[1]); }, 15);
    Tensor big = uniform({4, 37}, -1, 1, 16, dt) * 1e4;   // max-shifted: no overflow
    check_same_as_cpu({big, targets(4, 37, 17)}, {true, false},
                      [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], {.reduction = Reduction::Sum}); },
                      18);
  }
}

TEST_CASE("cuda: cross_entropy with every target ignored gives nan and zero gradient as on the CPU") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({4, 37}, -1, 1, 20, kFloat32).to(kCUDA);
  x.requires_grad_(true);
  Tensor t = full({4}, -100.0, {.dtype = kInt64}).to(kCUDA);
  Tensor loss = cross_entropy(x, t);
  CHECK(std::isnan(loss.item<double>()));
  loss.backward();
  CHECK(x.grad().abs().sum().item<double>() == 0.0);
}

TEST_CASE("cuda: the reduced cross_entropy is bitwise identical run to run") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({1025 * 37, 37}, -3, 3, 21, kFloat32).to(kCUDA);
  Tensor t = targets(1025 * 37, 37, 22, -100).to(kCUDA);
  Tensor w = uniform({37}, 0.2, 2, 23, kFloat32).to(kCUDA);
  auto run = [&] {
    Tensor xl = x.detach();
    xl.requires_grad_(true);
    Tensor loss = cross_entropy(xl, t, {.weight = w, .label_smoothing = 0.1});
    loss.backward();
    return std::pair{loss.item<float>(), xl.grad().to_vector<float>()};
  };
  auto [l1, g1] = run();
  auto [l2, g2] = run();
  CHECK(l1 == l2);
  CHECK(g1 == g2);
}

TEST_CASE("cuda: nll_loss matches the CPU with weights ignore_index and every reduction") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t C : kAwkwardSizes) {
      CAPTURE(C);
      Tensor x = uniform({37, C}, -5, 0, 30, dt);   // log-probabilities (any values serve)
      Tensor w = uniform({C}, 0.2, 2, 31, dt);
      for (bool weighted : {false, true})
        for (bool ignoring : {false, true})
          for (Reduction r : kReductions) {
            const std::string what = fmt::format("weight {} ignore {} {}", weighted, ignoring, reduction_name(r));
            CAPTURE(what);
            Tensor t = targets(37, C, 32, ignoring ? std::optional<int64_t>(-100) : std::nullopt);
            check_same_as_cpu({x, t, w}, {true, false, false},
                              [&](const std::vector<Tensor>& in) {
                                return nll_loss(in[0], in[1], {.weight = weighted ? in[2] : Tensor(), .reduction = r});
                              },
                              33);
          }
      // Through log_softmax, as a classifier uses it.
      Tensor t = targets(37, C, 34);
      check_same_as_cpu({x, t}, {true, false},
                        [](const std::vector<Tensor>& in) { return nll_loss(log_softmax(in[0], 1), in[1]); }, 35);
    }
}

TEST_CASE("cuda: an out-of-range target on a CUDA tensor gives the CPU error") {
  ATTO_REQUIRE_CUDA();
  Tensor x = uniform({3, 5}, -1, 1, 40, kFloat32);
  for (const Tensor& bad : {from_vector<int64_t>({0, 7, 1}), from_vector<int64_t>({0, -1, 1})}) {
    const std::string cpu = error_of([&] { cross_entropy(x, bad); });
    CHECK(cpu.find("[cross_entropy] target") != std::string::npos);
    CHECK(error_of([&] { cross_entropy(x.to(kCUDA), bad.to(kCUDA)); }) == cpu);
    const std::string cpu_nll = error_of([&] { nll_loss(x, bad); });
    CHECK(cpu_nll.find("[nll_loss] target") != std::string::npos);
    CHECK(error_of([&] { nll_loss(x.to(kCUDA), bad.to(kCUDA)); }) == cpu_nll);
  }
}

TEST_CASE("cuda: mse_loss matches the CPU with broadcasting and non-contiguous inputs") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      Tensor a = uniform({n, 3}, -2, 2, 50, dt), b = uniform({n, 3}, -2, 2, 51, dt), row = uniform({3}, -2, 2, 52, dt);
      for (Reduction r : kReductions) {
        const std::string what = reduction_name(r);
        CAPTURE(what);
        auto mse = [r](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); };
        check_same_as_cpu({a, b}, {true, true}, mse, 53);
        check_same_as_cpu({a, row}, {true, true}, mse, 54);   // target broadcast over rows
        // A transposed input and a strided (every other column) target.
        Tensor at = uniform({3, n}, -2, 2, 55, dt), bs = uniform({n, 6}, -2, 2, 56, dt);
        check_same_as_cpu({at, bs}, {true, true},
                          [r](const std::vector<Tensor>& in) {
                            return mse_loss(in[0].t(), in[1].slice(1, 0, std::nullopt, 2), r);
                          },
                          57);
      }
    }
}

TEST_CASE("cuda: binary_cross_entropy_with_logits matches the CPU with weight and pos_weight") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : kFloats)
    for (int64_t n : kAwkwardSizes) {
      CAPTURE(n);
      Tensor x = uniform({n, 4}, -6, 6, 60, dt), t = uniform({n, 4}, 0, 1, 61, dt);
      Tensor w = uniform({4}, 0.2, 2, 62, dt), pw = uniform({4}, 0.5, 3, 63, dt), wfull = uniform({n, 4}, 0.2, 2, 64, dt);
      for (Reduction r : kReductions) {
        const std::string what = reduction_name(r);
        CAPTURE(what);
        // Gradients in input and target; weight (broadcast or full) and pos_weight get none.
        check_same_as_cpu({x, t}, {true, true},
                          [r](const std::vector<Tensor>& in) {
                            return binary_cross_entropy_with_logits(in[0], in[1], {}, {}, r);
                          },
                          65);
        check_same_as_cpu({x, t, w, pw}, {true, true, false, false},
                          [r](const std::vector<Tensor>& in) {
                            return binary_cross_entropy_with_logits(in[0], in[1], in[2], in[3], r);
                          },
                          66);
        check_same_as_cpu({x.t().contiguous(), t, wfull}, {true, true, false},   // input seen as a transpose
                          [r](const std::vector<Tensor>& in) {
                            return binary_cross_entropy_with_logits(in[0].t(), in[1], in[2], {}, r);
                          },
                          67);
      }
      // Huge logits stay finite on both (the stable softplus).
      check_same_as_cpu({x * 1e3, t}, {true, true},
                        [](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1]); },
                        68);
    }
}

}  // TEST_SUITE("cuda")
