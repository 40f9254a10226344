// tensor/philox.h -- Philox4x32-10 and the word-to-number conversions shared by both backends
// (internal header). Everything here is ATTO_HD and free of the Tensor class and of threading, so the
// CPU kernels (tensor/cpu/random.h) and the CUDA kernels (cuda/random.cu) include the same code and
// produce the same numbers: NOTE [ Random stream layout ] in tensor/random.h.
#pragma once
#include <cstdint>

#include "tensor/strided.h"   // ATTO_HD

namespace atto {

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a bijection
// of a 128-bit counter under a 64-bit key; 10 rounds, the key bumped by the Weyl constants between
// rounds. Checked against Random123's published known-answer vectors in tests/tensor/test_random.cpp.
struct Philox4x32 {
  uint32_t v[4];
};

ATTO_HD inline Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += W0;
      k1 += W1;
    }
    uint64_t p0 = uint64_t(M0) * ctr.v[0];
    uint64_t p1 = uint64_t(M1) * ctr.v[2];
    ctr = {{uint32_t(p1 >> 32) ^ ctr.v[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ ctr.v[3] ^ k1, uint32_t(p0)}};
  }
  return ctr;
}

// Block `index` of the stream of `seed`: counter = (index as 64 bits, 0, 0), key = seed.
ATTO_HD inline Philox4x32 philox_block(uint64_t seed, uint64_t index) {
  return philox4x32_10({{uint32_t(index), uint32_t(index >> 32), 0u, 0u}}, uint32_t(seed), uint32_t(seed >> 32));
}

// Word pair (lo, hi) -> 64 bits; 32 bits -> float in [0, 1) with 24 random bits; 64 bits -> double
// in [0, 1) with 53 random bits. Both are exact (no rounding up to 1).
ATTO_HD inline uint64_t philox_u64(uint32_t lo, uint32_t hi) { return uint64_t(lo) | (uint64_t(hi) << 32); }
ATTO_HD inline float uniform_float(uint32_t w) { return float(w >> 8) * 0x1p-24f; }
ATTO_HD inline double uniform_double(uint64_t w) { return double(w >> 11) * 0x1p-53; }

}  // namespace atto
