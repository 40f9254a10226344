// tensor/cpu/isa.cpp -- which vector instructions `vectorized` uses (NOTE [ CPU vector width ] in
// tensor/cpu/isa.h).
#include "tensor/cpu/isa.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace atto::cpu {
namespace {

VectorIsa detect() {
#if ATTO_HAS_VECTOR_ISA
  // GCC's checks include the operating system's support for the wider registers (XGETBV).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    return VectorIsa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return VectorIsa::kAvx2;
#endif
  return VectorIsa::kBaseline;
}

VectorIsa clamp(VectorIsa wanted) { return int(wanted) < int(best_vector_isa()) ? wanted : best_vector_isa(); }

// ATTO_CPU_ISA=baseline|avx2|avx512 lowers the level (to compare speeds, or to rule out the wide
// copies when chasing a bug); an unknown value is reported once and ignored.
VectorIsa initial() {
  const char* env = std::getenv("ATTO_CPU_ISA");
  if (!env || !*env) return best_vector_isa();
  for (VectorIsa isa : {VectorIsa::kBaseline, VectorIsa::kAvx2, VectorIsa::kAvx512})
    if (std::strcmp(env, vector_isa_name(isa)) == 0) return clamp(isa);
  std::fprintf(stderr, "attograd: ATTO_CPU_ISA='%s' is not one of baseline, avx2, avx512; using %s\n", env,
               vector_isa_name(best_vector_isa()));
  return best_vector_isa();
}

std::atomic<int> g_isa{-1};   // -1: not chosen yet

}  // namespace

VectorIsa best_vector_isa() {
  static const VectorIsa best = detect();
  return best;
}

VectorIsa vector_isa() {
  int isa = g_isa.load(std::memory_order_relaxed);
  if (isa < 0) {
    isa = int(initial());
    g_isa.store(isa, std::memory_order_relaxed);
  }
  return VectorIsa(isa);
}

void set_vector_isa(VectorIsa isa) { g_isa.store(int(clamp(isa)), std::memory_order_relaxed); }

const char* vector_isa_name(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kAvx2: return "avx2";
    case VectorIsa::kAvx512: return "avx512";
    case VectorIsa::kBaseline: break;
  }
  return "baseline";
}

}  // namespace atto::cpu
