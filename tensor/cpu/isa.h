// tensor/cpu/isa.h -- run a hot loop compiled for the widest vector instructions this CPU has
// (internal).
//
//   vectorized([&]() ATTO_INLINE_LOOP { for (i...) y[i] = f(x[i]); });
//
// NOTE [ CPU vector width ]
// The library is compiled for baseline x86-64 (SSE2: 4 floats per instruction), so that one binary
// runs on any x86-64 machine. `vectorized` compiles the loop it is given three times, for SSE2, AVX2
// (8 floats) and AVX-512 (16 floats), and runs the widest one the CPU supports, chosen once at
// start-up. GELU's or softmax's loop runs about 3x faster with AVX-512 than with SSE2.
//
// The three copies give bitwise the same results: each element goes through the same IEEE
// operations in the same order, only more of them at a time. That holds because
//   * the library is compiled with -ffp-contract=off (AVX-512 implies FMA, and a contracted a*b+c
//     rounds once instead of twice), and
//   * the loops handed over do no floating-point reduction across elements (GCC does not reorder
//     those without -ffast-math anyway).
// tests/tensor/test_isa.cpp runs kernels under each level this machine has and compares the bits.
//
// The loop body must be inlined into the target-specific copy to be compiled for it: pass a lambda
// marked ATTO_INLINE_LOOP, and make the functions it calls always_inline (a call out of the loop
// would run the baseline code). Non-x86 or non-GCC builds run the loop as it is.
#pragma once

#define ATTO_INLINE_LOOP __attribute__((always_inline))

namespace atto::cpu {

enum class VectorIsa { kBaseline, kAvx2, kAvx512 };

// The level used: the CPU's best, unless lowered with ATTO_CPU_ISA=baseline|avx2 in the environment
// or by set_vector_isa (tests). Never above what the CPU supports.
VectorIsa vector_isa();
VectorIsa best_vector_isa();      // what the CPU supports
void set_vector_isa(VectorIsa);   // clamped to best_vector_isa()
const char* vector_isa_name(VectorIsa);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define ATTO_HAS_VECTOR_ISA 1
namespace isa_detail {
template <class Loop> [[gnu::target("avx2")]] void run_avx2(const Loop& loop) { loop(); }
template <class Loop>
[[gnu::target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")]] void run_avx512(const Loop& loop) {
  loop();
}
}  // namespace isa_detail

template <class Loop> void vectorized(const Loop& loop) {
  switch (vector_isa()) {
    case VectorIsa::kAvx512: return isa_detail::run_avx512(loop);
    case VectorIsa::kAvx2: return isa_detail::run_avx2(loop);
    case VectorIsa::kBaseline: break;
  }
  loop();
}
#else
#define ATTO_HAS_VECTOR_ISA 0
template <class Loop> void vectorized(const Loop& loop) { loop(); }
#endif

}  // namespace atto::cpu
