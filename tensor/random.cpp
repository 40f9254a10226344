// tensor/random.cpp -- the Generator and the random creation / fill functions (tensor/random.h);
// the kernels are in tensor/cpu/random.h and, for CUDA tensors, cuda/random.cu. One Generator
// serves both devices: a draw reserves the same blocks wherever it runs, so the CPU and the GPU
// give the same values for the same generator state.
#include "tensor/random.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/cpu/random.h"
#include "tensor/dispatch.h"

namespace atto {

// ---- Generator -------------------------------------------------------------------------------------

void Generator::manual_seed(uint64_t seed) { set_state({seed, 0}); }

GeneratorState Generator::get_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void Generator::set_state(const GeneratorState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = state;
}

GeneratorState Generator::reserve(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mu_);
  GeneratorState at = state_;
  state_.offset += blocks;
  return at;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Blocks a draw of n values takes (NOTE [ Random stream layout ]).
uint64_t blocks_for(int64_t n, int per_block) { return uint64_t((n + per_block - 1) / per_block); }

// Runs `draw(out)` on a contiguous tensor with t's shape and dtype -- t itself when it is
// contiguous, otherwise a scratch tensor copied into t -- so a view's elements get the same values,
// in C order, as a contiguous tensor of its shape would.
template <class Draw> void fill_any_layout(const Tensor& t, const char* op, const Draw& draw) {
  for (int d = 0; d < t.ndim(); ++d)
    ATTO_CHECK(t.stride(d) != 0 || t.size(d) <= 1,
               "[{}] cannot fill an expanded tensor (shape {}, strides {}): several of its elements share one "
               "memory location; fill a contiguous copy (clone()) instead", op, t.shape(), t.strides());
  if (t.is_contiguous()) {
    draw(t);
    return;
  }
  Tensor tmp = empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
  draw(tmp);
  NoGradGuard no_grad;
  Tensor(t).copy_(tmp);
}

void draw_uniform(const Tensor& out, double from, double to, Generator& gen, const char* op) {
  visit_floating(out.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    GeneratorState s = gen.reserve(blocks_for(out.numel(), sizeof(T) == 4 ? 4 : 2));
    ATTO_ON_DEVICE(out.device(), random_uniform<T>, out.data_ptr<T>(), out.numel(), s.seed, s.offset, from, to);
  });
}

void draw_normal(const Tensor& out, double mean, double std, Generator& gen, const char* op) {
  ATTO_CHECK(std >= 0.0, "[{}] expects std >= 0, got {}", op, std);
  visit_floating(out.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    GeneratorState s = gen.reserve(blocks_for(out.numel(), 2));
    ATTO_ON_DEVICE(out.device(), random_normal<T>, out.data_ptr<T>(), out.numel(), s.seed, s.offset, mean, std);
  });
}

// p points at one probability (p_step 0; a host address on every device, the CUDA kernel reads it
// on the host) or at out.numel() of them (contiguous float64 on out's device).
void draw_bernoulli(const Tensor& out, const double* p, int64_t p_step, Generator& gen, const char* op) {
  visit_dtype(out.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    GeneratorState s = gen.reserve(blocks_for(out.numel(), 2));
    ATTO_ON_DEVICE(out.device(), random_bernoulli<T>, out.data_ptr<T>(), out.numel(), s.seed, s.offset, p, p_step,
                   1.0);
  });
}

void check_probability(double p, const char* op) {
  ATTO_CHECK(p >= 0.0 && p <= 1.0, "[{}] expects p in [0, 1], got {}", op, p);
}

// Creation: an empty tensor filled by `draw`, then requires_grad as asked.
template <class Draw> Tensor create(const Shape& shape, TensorOptions options, const Draw& draw) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  draw(t);
  if (rg) t.requires_grad_(true);
  return t;
}

}  // namespace

// ---- creation --------------------------------------------------------------------------------------

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  return create(shape, options, [&](const Tensor& t) { draw_uniform(t, 0.0, 1.0, pick(gen), "rand"); });
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  return create(shape, options, [&](const Tensor& t) { draw_normal(t, 0.0, 1.0, pick(gen), "randn"); });
}

Tensor normal(double mean, double std, const Shape& shape, TensorOptions options, Generator* gen) {
  return create(shape, options, [&](const Tensor& t) { draw_normal(t, mean, std, pick(gen), "normal"); });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  ATTO_CHECK(low < high, "[randint] expects low < high, got low={} high={}", low, high);
  ATTO_CHECK(options.dtype != kBool, "[randint] does not produce bool tensors; use bernoulli");
  const uint64_t range = uint64_t(high) - uint64_t(low);
  return create(shape, options, [&](const Tensor& t) {
    visit_numeric(t.dtype(), "randint", [&](auto tag) {
      using T = decltype(tag);
      GeneratorState s = pick(gen).reserve(blocks_for(t.numel(), 2));
      ATTO_ON_DEVICE(t.device(), random_int<T>, t.data_ptr<T>(), t.numel(), s.seed, s.offset, low, range);
    });
  });
}

Tensor randint(int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  return randint(0, high, shape, options, gen);
}

Tensor bernoulli(double p, const Shape& shape, TensorOptions options, Generator* gen) {
  check_probability(p, "bernoulli");
  return create(shape, options, [&](const Tensor& t) { draw_bernoulli(t, &p, 0, pick(gen), "bernoulli"); });
}

Tensor bernoulli(const Tensor& p, Generator* gen) {
  ATTO_CHECK(p.is_floating_point(), "[bernoulli] expects floating probabilities, got {} of shape {}", p.dtype(),
             p.shape());
  NoGradGuard no_grad;
  Tensor pd = p.detach().to(kCPU).to(kFloat64).contiguous();
  const double* pv = pd.data_ptr<double>();
  for (int64_t i = 0; i < pd.numel(); ++i)
    ATTO_CHECK(pv[i] >= 0.0 && pv[i] <= 1.0,
               "[bernoulli] expects every p in [0, 1], got {} at flat index {} of shape {}", pv[i], i, p.shape());
  if (!p.device().is_cpu()) pd = pd.to(p.device());
  Tensor out = empty(p.shape(), {.dtype = p.dtype(), .device = p.device()});
  draw_bernoulli(out, pd.data_ptr<double>(), 1, pick(gen), "bernoulli");
  return out;
}

Tensor rand_like(const Tensor& t, Generator* gen) {
  return rand(t.shape(), {.dtype = t.dtype(), .device = t.device()}, gen);
}
Tensor randn_like(const Tensor& t, Generator* gen) {
  return randn(t.shape(), {.dtype = t.dtype(), .device = t.device()}, gen);
}

// ---- in-place fills ----------------------------------------------------------------------------------

Tensor uniform_(const Tensor& t, double from, double to, Generator* gen) {
  check_inplace(t, "uniform_");
  ATTO_CHECK(from <= to, "[uniform_] expects from <= to, got from={} to={}", from, to);
  fill_any_layout(t, "uniform_", [&](const Tensor& out) { draw_uniform(out, from, to, pick(gen), "uniform_"); });
  return t;
}

Tensor normal_(const Tensor& t, double mean, double std, Generator* gen) {
  check_inplace(t, "normal_");
  fill_any_layout(t, "normal_", [&](const Tensor& out) { draw_normal(out, mean, std, pick(gen), "normal_"); });
  return t;
}

Tensor bernoulli_(const Tensor& t, double p, Generator* gen) {
  check_inplace(t, "bernoulli_");
  check_probability(p, "bernoulli_");
  fill_any_layout(t, "bernoulli_", [&](const Tensor& out) { draw_bernoulli(out, &p, 0, pick(gen), "bernoulli_"); });
  return t;
}

}  // namespace atto
