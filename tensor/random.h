// tensor/random.h -- random numbers: the Generator, random creation (rand, randn, randint, normal,
// bernoulli), in-place fills for initialisers (uniform_, normal_, bernoulli_), and dropout.
//
// NOTE [ Random stream layout ]
// A Generator is a counter-based Philox4x32-10 stream (tensor/philox.h), not a sequential
// engine: it holds only (seed, offset). Block k of the stream is philox(counter = k, key = seed),
// four 32-bit words. A draw of n values reserves the next ceil(n / per_block) blocks and advances
// offset by that many, so value i of a draw depends only on (seed, offset, i) -- never on the
// thread count, and the CUDA backend can reproduce it by evaluating the same blocks:
//
//   draw                         values per block   value i uses block offset + i / per_block, and
//   uniform float32 (rand)       4                  word i % 4: (w >> 8) * 2^-24
//   uniform float64              2                  words (2j, 2j+1), j = i % 2, as 64 bits (lo first):
//                                                   (u64 >> 11) * 2^-53
//   randint (any dtype)          2                  low + u64 % (high - low)
//   bernoulli (any dtype)        2                  (53-bit uniform of u64) < p
//   normal (float32, float64)    2                  Box-Muller: U1 from words (0, 1), U2 from (2, 3);
//                                                   value 2j is r cos(2 pi U2), 2j+1 is r sin(2 pi U2)
//
// Uniform, randint and bernoulli draws are therefore bitwise reproducible anywhere; normals go
// through log/cos/sin and match another backend up to those functions' last-bit differences.
//
// The streams differ from PyTorch's (mt19937 on the CPU, Philox with another layout on CUDA): the
// same seed gives other values than torch.manual_seed(seed). Only distributions match PyTorch's.
//
// Thread safety: drawing from one Generator in several threads is safe (the offset is reserved
// under a lock); which thread gets which values is then up to the scheduler.
#pragma once
#include <cstdint>
#include <mutex>

#include "tensor/tensor.h"

namespace atto {

// Everything that determines a Generator's future output: save it with a checkpoint, set it on
// resume and the next draws are bitwise the same as in the uninterrupted run.
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;   // in Philox blocks of 128 bits
  bool operator==(const GeneratorState&) const = default;
};

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 67280421310721ull;   // PyTorch's default seed

  explicit Generator(uint64_t seed = kDefaultSeed) : state_{seed, 0} {}
  Generator(const Generator& o) : state_(o.get_state()) {}
  Generator& operator=(const Generator& o) {
    set_state(o.get_state());
    return *this;
  }

  void manual_seed(uint64_t seed);   // and rewinds the offset to 0
  uint64_t seed() const { return get_state().seed; }
  uint64_t offset() const { return get_state().offset; }
  GeneratorState get_state() const;
  void set_state(const GeneratorState& state);

  // Reserves `blocks` consecutive Philox blocks for one draw; returns the state to draw them from.
  GeneratorState reserve(uint64_t blocks);

 private:
  mutable std::mutex mu_;
  GeneratorState state_;
};

// The generator every random function uses when given none.
Generator& default_generator();
// Seeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);

// ---- creation: `gen` null means default_generator() ------------------------------------------------
// U[0, 1). Floating dtypes only.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
// N(0, 1). Floating dtypes only.
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
// Integers uniform in [low, high); int64 unless options say otherwise (as torch.randint).
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = kInt64},
               Generator* gen = nullptr);
Tensor randint(int64_t high, const Shape& shape, TensorOptions options = {.dtype = kInt64}, Generator* gen = nullptr);
// N(mean, std^2), std >= 0.
Tensor normal(double mean, double std, const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
// 1 with probability p[i], else 0: same shape and dtype as p (floating), p in [0, 1]. Not differentiable.
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);
Tensor bernoulli(double p, const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

// ---- in-place fills (any layout; rejected on a tensor that requires grad while grad mode is on) ----
// They write t's elements (a handle: const refers to the handle, not the data) and return t, so a
// view works too: uniform_(w.narrow(0, 0, 2), -1, 1) fills those rows of w. A view's elements get,
// in C order, the values a contiguous tensor of its shape would get.
Tensor uniform_(const Tensor& t, double from = 0.0, double to = 1.0, Generator* gen = nullptr);
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor bernoulli_(const Tensor& t, double p = 0.5, Generator* gen = nullptr);

// ---- dropout (autograd/functions/dropout.cpp) ------------------------------------------------------
// As torch.nn.functional.dropout: in training, zeroes each element with probability p and scales
// the others by 1 / (1 - p); p == 1 gives zeros. Identity (x itself) when !training or p == 0.
// Differentiable: the gradient goes through the same mask. p outside [0, 1] is an error.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

}  // namespace atto
