// tensor/cpu/parallel_for.h -- the CPU backend's only threading primitives (internal header).
//
// parallel_for(begin, end, grain, fn): fn(b, e) over disjoint pieces of [begin, end); runs inline
//   when the range is under `grain` elements or we are already inside a parallel region.
// NOTE [ Deterministic reductions ]: a parallel reduction splits its range into pieces of a fixed
//   size (kReduceChunk), independent of the thread count, computes one partial per piece, then
//   combines the partials in order on one thread. 1 or 16 threads, the additions happen in the same
//   order, so the results are bitwise identical.
#pragma once
#include <algorithm>
#include <cstdint>

#if ATTO_HAS_OPENMP
#include <omp.h>
#endif

namespace atto::cpu {

inline constexpr int64_t kParallelGrain = 32768;   // below this, threads cost more than they save
inline constexpr int64_t kReduceChunk = 4096;

template <class F> void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
#if ATTO_HAS_OPENMP
  if (n >= grain && !omp_in_parallel() && omp_get_max_threads() > 1) {
#pragma omp parallel
    {
      int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t per = (n + nt - 1) / nt;
      int64_t b = begin + t * per, e = std::min(end, b + per);
      if (b < e) fn(b, e);
    }
    return;
  }
#endif
  fn(begin, end);
}

}  // namespace atto::cpu
