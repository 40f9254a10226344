// tensor/cpu/reduce.h -- row reductions on the CPU (internal). Every reduction is first arranged as
// `rows` independent rows of `R` contiguous elements (autograd/functions/reduce.cpp does that), so
// each kernel is a loop over rows with a loop over one row inside. Twin: cuda/reduce.cu.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

// Accumulator type: float sums accumulate in double (accurate, and still fast on short rows).
template <class T> using acc_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

// out[r] = sum_{j<R} x[r*R + j]. NOTE [ Deterministic reductions ] (parallel_for.h): each row is
// summed as fixed kReduceChunk-sized pieces added in order, whichever thread computes which piece.
template <class T> void sum_rows(const T* x, T* out, int64_t rows, int64_t R) {
  using A = acc_t<T>;
  auto sum_chunk = [x, R](int64_t r, int64_t c) {
    const T* p = x + r * R + c * kReduceChunk;
    int64_t n = std::min(kReduceChunk, R - c * kReduceChunk);
    A acc = 0;
    for (int64_t j = 0; j < n; ++j) acc += A(p[j]);
    return acc;
  };
  const int64_t chunks = std::max<int64_t>(1, (R + kReduceChunk - 1) / kReduceChunk);
  if (rows >= chunks) {   // many rows: one thread per group of rows
    parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        A acc = 0;
        for (int64_t c = 0; c < chunks; ++c) acc += sum_chunk(r, c);
        out[r] = T(acc);
      }
    });
  } else {                // few long rows: the pieces of a row go to different threads
    std::vector<A> partial(chunks);
    for (int64_t r = 0; r < rows; ++r) {
      parallel_for(0, chunks, 2, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) partial[c] = sum_chunk(r, c);
      });
      A acc = 0;
      for (int64_t c = 0; c < chunks; ++c) acc += partial[c];
      out[r] = T(acc);
    }
  }
}

}  // namespace atto::cpu
