// tensor/cpu/softmax.h -- softmax and log_softmax on the CPU, forward and backward (internal).
// Twin: cuda/softmax.cu.
//
// The input is a contiguous block seen as (outer, n, inner) with the softmax taken over n: element
// (o, j, i) lives at (o * n + j) * inner + i. Each of the outer * inner "lines" (inner = 1 for the
// last dim: a contiguous row) is handled start to end by one thread, so results do not depend on
// the thread count. Float rows run through `vectorized` (NOTE [ CPU vector width ]).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/loops.h"    // run_loop
#include "tensor/cpu/parallel_for.h"
#include "tensor/cpu/reduce.h"   // acc_t
#include "tensor/cpu/vec_math.h"

namespace atto::cpu {

// fn(base) for each line; fn must be ATTO_INLINE_LOOP to be compiled into the wide copies.
template <class T, class F> void for_each_line(int64_t outer, int64_t n, int64_t inner, const F& fn) {
  parallel_for(0, outer * inner, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
               [&](int64_t b, int64_t e) {
                 run_loop<T>([&]() ATTO_INLINE_LOOP {
                   for (int64_t l = b; l < e; ++l) fn((l / inner) * n * inner + l % inner);
                 });
               });
}

// e^x: for float the vectorisable exp_f32 (vec_math.h), for double std::exp.
template <class T> [[gnu::always_inline]] inline T softmax_exp(T x) {
  if constexpr (std::is_same_v<T, float>) return exp_f32(x);
  else return std::exp(x);
}

// sum_j term(j) over a contiguous row, in kLanes interleaved partial sums added up in a fixed order
// at the end (the same for any thread count): one serial chain of adds would cost more than the
// vectorised work around it.
template <class A, class Term> [[gnu::always_inline]] inline A sum_lanes(int64_t n, const Term& term) {
  constexpr int64_t kLanes = 8;
  A lane[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) lane[l] += term(j + l);
  for (; j < n; ++j) lane[j % kLanes] += term(j);
  A sum = 0;
  for (int64_t l = 0; l < kLanes; ++l) sum += lane[l];
  return sum;
}

// max_j x_j over a contiguous row of n >= 1, NaN if any x_j is NaN, in kLanes running maxima so
// that it vectorises (one running max is a serial chain of compares). The floats are compared as
// integer keys that order as they do (a negative float's magnitude bits flipped; -0 < +0): under
// GCC's default -ftrapping-math a float compare does not vectorise (NOTE in vec_math.h), an
// integer max does. NaNs are tracked apart. The maximum of a set is one of its elements whatever
// the order, so none of this changes a bit of the softmax; for the same reason the last, partial
// block is the kLanes entries ending the row, overlapping the block before it: no scalar tail.
template <class T> [[gnu::always_inline]] inline T max_lanes(const T* x, int64_t n) {
  using I = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  constexpr I kMagnitude = std::numeric_limits<I>::max();   // every bit but the sign
  constexpr I kInf = std::bit_cast<I>(std::numeric_limits<T>::infinity());
  constexpr int kSignShift = 8 * sizeof(I) - 1;
  auto key = [](T v) ATTO_INLINE_LOOP {
    const I b = std::bit_cast<I>(v);
    return I(b ^ ((b >> kSignShift) & kMagnitude));   // the same map turns a key back into the float
  };
  auto is_nan = [](T v) ATTO_INLINE_LOOP { return I((std::bit_cast<I>(v) & kMagnitude) > kInf); };
  constexpr int64_t kLanes = 16;
  I best = key(x[0]), any_nan = is_nan(x[0]);
  if (n < kLanes) {
    for (int64_t j = 1; j < n; ++j) {
      const I k = key(x[j]);
      best = k > best ? k : best;
      any_nan |= is_nan(x[j]);
    }
  } else {
    I lane[kLanes], lane_nan[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) lane[l] = key(x[l]), lane_nan[l] = is_nan(x[l]);
    for (int64_t j = kLanes; j < n; j += kLanes) {
      const T* block = x + std::min(j, n - kLanes);
      for (int64_t l = 0; l < kLanes; ++l) {
        const I k = key(block[l]);
        lane[l] = k > lane[l] ? k : lane[l];
        lane_nan[l] |= is_nan(block[l]);
      }
    }
    for (int64_t l = 0; l < kLanes; ++l) {
      best = lane[l] > best ? lane[l] : best;
      any_nan |= lane_nan[l];
    }
  }
  if (any_nan) return std::numeric_limits<T>::quiet_NaN();
  return std::bit_cast<T>(I(best ^ ((best >> kSignShift) & kMagnitude)));
}

// softmax:      y_j = exp(x_j - m) / sum_k exp(x_k - m)
// log_softmax:  y_j = x_j - m - log(sum_k exp(x_k - m))
// with m = max_k x_k, so no exp overflows (the result is the same for any shift m). A contiguous
// row (inner == 1, the usual last-dim softmax) runs as separate flat loops that GCC vectorises.
template <class T, bool Log> void softmax_forward_impl(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  using A = acc_t<T>;
  for_each_line<T>(outer, n, inner, [&](int64_t base) ATTO_INLINE_LOOP {
    const T* xl = x + base;
    T* yl = y + base;
    T m = xl[0];
    if (inner == 1) {
      m = max_lanes(xl, n);
    } else {
      for (int64_t j = 1; j < n; ++j) {
        T v = xl[j * inner];
        if (v > m || v != v) m = v;
      }
    }
    A sum = 0;
    if (inner == 1) {
      for (int64_t j = 0; j < n; ++j) yl[j] = softmax_exp(xl[j] - m);
      sum = sum_lanes<A>(n, [&](int64_t j) ATTO_INLINE_LOOP { return A(yl[j]); });
    } else {
      for (int64_t j = 0; j < n; ++j) {
        T e = softmax_exp(xl[j * inner] - m);
        if constexpr (!Log) yl[j * inner] = e;
        sum += A(e);
      }
    }
    if constexpr (Log) {
      const T lse = T(std::log(sum));   // (x - m) - lse, not x - (m + lse): keeps float precision for large m
      for (int64_t j = 0; j < n; ++j) yl[j * inner] = (xl[j * inner] - m) - lse;
    } else {
      const T inv = T(A(1) / sum);
      for (int64_t j = 0; j < n; ++j) yl[j * inner] *= inv;
    }
  });
}

// softmax:      dx_j = sum_k dy_k dy_k/dx_j = sum_k dy_k y_k (delta_jk - y_j) = y_j (dy_j - sum_k dy_k y_k)
// log_softmax:  dx_j = sum_k dy_k (delta_jk - softmax_j) = dy_j - exp(y_j) sum_k dy_k
template <class T, bool Log>
void softmax_backward_impl(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner) {
  using A = acc_t<T>;
  for_each_line<T>(outer, n, inner, [&](int64_t base) ATTO_INLINE_LOOP {
    const T *yl = y + base, *dyl = dy + base;
    T* dxl = dx + base;
    auto term = [&](int64_t j) ATTO_INLINE_LOOP {
      return Log ? A(dyl[j * inner]) : A(dyl[j * inner]) * A(yl[j * inner]);
    };
    A dot = 0;
    if (inner == 1) dot = sum_lanes<A>(n, term);
    else for (int64_t j = 0; j < n; ++j) dot += term(j);
    const T s = T(dot);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = j * inner;
      dxl[k] = Log ? dyl[k] - softmax_exp(yl[k]) * s : yl[k] * (dyl[k] - s);
    }
  });
}

// Causal softmax over contiguous rows of S, in blocks of L rows (the (L, S) scores of one head): row
// i of a block sees entries j <= i (PyTorch's is_causal: ones(L, S).tril()), the others get 0. The
// same bits as filling the hidden entries with -inf and calling softmax_forward: e^-inf adds exactly
// 0 to the sum and each visible entry lands in the same partial sum (lane j % 8), but the hidden half
// of the row is neither filled, read nor exponentiated. The backward is softmax_backward's (dx = 0
// where y = 0). Rows never come out empty: entry 0 is always visible.
template <class T> void softmax_forward_causal(const T* x, T* y, int64_t rows, int64_t L, int64_t S) {
  using A = acc_t<T>;
  for_each_line<T>(rows, S, 1, [&](int64_t base) ATTO_INLINE_LOOP {
    const int64_t visible = std::min<int64_t>(base / S % L + 1, S);
    const T* xl = x + base;
    T* yl = y + base;
    const T m = max_lanes(xl, visible);
    // Whole vectors of exps (no scalar tail): the entries past `visible` are zeroed below.
    const int64_t padded = std::min<int64_t>(S, (visible + 15) / 16 * 16);
    for (int64_t j = 0; j < padded; ++j) yl[j] = softmax_exp(xl[j] - m);
    const A sum = sum_lanes<A>(visible, [&](int64_t j) ATTO_INLINE_LOOP { return A(yl[j]); });
    const T inv = T(A(1) / sum);
    for (int64_t j = 0; j < visible; ++j) yl[j] *= inv;
    for (int64_t j = visible; j < S; ++j) yl[j] = T(0);
  });
}

// log selects log_softmax.
template <class T> void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (log) softmax_forward_impl<T, true>(x, y, outer, n, inner);
  else softmax_forward_impl<T, false>(x, y, outer, n, inner);
}
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (log) softmax_backward_impl<T, true>(y, dy, dx, outer, n, inner);
  else softmax_backward_impl<T, false>(y, dy, dx, outer, n, inner);
}

}  // namespace atto::cpu
