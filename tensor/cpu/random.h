// tensor/cpu/random.h -- the CPU random kernels (internal header); twin: cuda/random.cu. Philox and
// the word-to-number conversions they share with the CUDA backend are in tensor/philox.h (see NOTE
// [ Random stream layout ] in tensor/random.h for the layout both backends follow).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensor/cpu/parallel_for.h"
#include "tensor/philox.h"

namespace atto::cpu {

// Runs emit(block_words, out + first, count) for every Philox block of a draw of n values,
// `per_block` values to a block, blocks numbered from `offset`. Each block depends only on (seed,
// its index), so any split over threads gives the same values.
template <class T, class Emit>
void philox_blocks(T* out, int64_t n, int per_block, uint64_t seed, uint64_t offset, const Emit& emit) {
  const int64_t blocks = (n + per_block - 1) / per_block;
  parallel_for(0, blocks, std::max<int64_t>(1, kParallelGrain / (4 * per_block)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Philox4x32 r = philox_block(seed, offset + uint64_t(b));
      int64_t first = b * per_block;
      emit(r, out + first, int(std::min<int64_t>(per_block, n - first)));
    }
  });
}

// out[i] = lo + (hi - lo) * U, U uniform in [0, 1): float32 takes one word per value (4 a block),
// float64 two words (2 a block).
template <class T> void random_uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  const double span = hi - lo;
  if constexpr (sizeof(T) == 4) {
    philox_blocks(out, n, 4, seed, offset, [&](const Philox4x32& r, T* o, int cnt) {
      for (int k = 0; k < cnt; ++k) o[k] = T(lo + span * double(uniform_float(r.v[k])));
    });
  } else {
    philox_blocks(out, n, 2, seed, offset, [&](const Philox4x32& r, T* o, int cnt) {
      for (int k = 0; k < cnt; ++k) o[k] = T(lo + span * uniform_double(philox_u64(r.v[2 * k], r.v[2 * k + 1])));
    });
  }
}

// out[i] = mean + std * Z, Z ~ N(0, 1) by Box-Muller on one block: U1 from words (0, 1), U2 from
// words (2, 3), both 53-bit; the block gives r cos(2 pi U2) then r sin(2 pi U2), r = sqrt(-2 log(1 - U1)).
// Computed in double for both dtypes: a float32 draw is the float64 draw rounded.
template <class T> void random_normal(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  philox_blocks(out, n, 2, seed, offset, [&](const Philox4x32& r, T* o, int cnt) {
    double u1 = 1.0 - uniform_double(philox_u64(r.v[0], r.v[1]));   // (0, 1]: log never sees 0
    double u2 = uniform_double(philox_u64(r.v[2], r.v[3]));
    double radius = std::sqrt(-2.0 * std::log(u1));
    double theta = 6.283185307179586476925 * u2;   // 2 pi
    o[0] = T(mean + std * radius * std::cos(theta));
    if (cnt > 1) o[1] = T(mean + std * radius * std::sin(theta));
  });
}

// out[i] = low + (64 random bits mod range), range = high - low >= 1 (bias below range / 2^64).
template <class T> void random_int(T* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range) {
  philox_blocks(out, n, 2, seed, offset, [&](const Philox4x32& r, T* o, int cnt) {
    for (int k = 0; k < cnt; ++k)
      o[k] = T(int64_t(uint64_t(low) + philox_u64(r.v[2 * k], r.v[2 * k + 1]) % range));
  });
}

// out[i] = U < p[i * p_step] ? value : 0, U 53-bit uniform (p_step 0: one p for all).
template <class T>
void random_bernoulli(T* out, int64_t n, uint64_t seed, uint64_t offset, const double* p, int64_t p_step, double value) {
  philox_blocks(out, n, 2, seed, offset, [&](const Philox4x32& r, T* o, int cnt) {
    const int64_t first = (o - out);
    for (int k = 0; k < cnt; ++k) {
      double u = uniform_double(philox_u64(r.v[2 * k], r.v[2 * k + 1]));
      o[k] = u < p[(first + k) * p_step] ? T(value) : T(0);
    }
  });
}

}  // namespace atto::cpu
