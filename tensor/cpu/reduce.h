// tensor/cpu/reduce.h -- row reductions on the CPU (internal). Every reduction is first arranged as
// `rows` independent rows of `R` contiguous elements (autograd/functions/reduce.cpp does that), so
// each kernel is a loop over rows with a loop over one row inside; each backward kernel writes a
// gradient in the same (rows, R) layout. Twin: cuda/reduce.cu.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

// Accumulator type: float sums accumulate in double (accurate, and still fast on short rows).
template <class T> using acc_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

template <class T> inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// reduce_rows<Acc>(rows, R, chunk, combine, finish) -- the skeleton of every deterministic row
// reduction. NOTE [ Deterministic reductions ] (parallel_for.h): row r is cut into fixed
// kReduceChunk-sized pieces; chunk(r, b, e) -> Acc reduces x[r, b:e]; the partials are merged in
// order by combine(earlier, later); finish(r, acc) stores the row's result. Which thread computes
// which piece never changes the order of the merges, so the result does not depend on the thread
// count. Many rows: one thread per group of rows; few long rows: a row's pieces go to threads.
template <class Acc, class Chunk, class Combine, class Finish>
void reduce_rows(int64_t rows, int64_t R, const Chunk& chunk, const Combine& combine, const Finish& finish) {
  const int64_t chunks = std::max<int64_t>(1, (R + kReduceChunk - 1) / kReduceChunk);
  auto piece = [&](int64_t r, int64_t c) {
    return chunk(r, c * kReduceChunk, std::min(R, (c + 1) * kReduceChunk));
  };
  if (rows >= chunks) {
    parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        Acc acc = piece(r, 0);
        for (int64_t c = 1; c < chunks; ++c) acc = combine(acc, piece(r, c));
        finish(r, acc);
      }
    });
  } else {
    std::vector<Acc> partial(static_cast<size_t>(chunks));
    for (int64_t r = 0; r < rows; ++r) {
      parallel_for(0, chunks, 2, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) partial[size_t(c)] = piece(r, c);
      });
      Acc acc = partial[0];
      for (int64_t c = 1; c < chunks; ++c) acc = combine(acc, partial[size_t(c)]);
      finish(r, acc);
    }
  }
}

// Elementwise over a (rows, R) block, for backward kernels: fn(r, j) for every element.
template <class F> void for_each_row_element(int64_t rows, int64_t R, const F& fn) {
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < R; ++j) fn(r, j);
  });
}

// ---- sum ------------------------------------------------------------------------------------------

// out[r] = sum_j x[r, j]
template <class T> void sum_rows(const T* x, T* out, int64_t rows, int64_t R) {
  using A = acc_t<T>;
  reduce_rows<A>(
      rows, R,
      [x, R](int64_t r, int64_t b, int64_t e) {
        A acc = 0;
        for (const T* p = x + r * R + b; p != x + r * R + e; ++p) acc += A(*p);
        return acc;
      },
      [](A a, A b) { return a + b; }, [out](int64_t r, A acc) { out[r] = T(acc); });
}

// out[c] = sum_j x[j, c] for x (R, cols) contiguous: sum_rows over the transpose without making it.
// Each column is summed exactly as sum_rows sums a row -- in acc_t, in kReduceChunk pieces of j
// merged in order -- so the two agree bitwise; the inner loop runs along a row of x (contiguous,
// vectorisable), and threads split the columns, so the thread count changes nothing.
template <class T> void sum_columns(const T* x, T* out, int64_t R, int64_t cols) {
  using A = acc_t<T>;
  parallel_for(0, cols, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)), [&](int64_t c0, int64_t c1) {
    const int64_t n = c1 - c0;
    std::vector<A> total(static_cast<size_t>(n)), piece(static_cast<size_t>(n));
    for (int64_t b = 0; b < std::max<int64_t>(R, 1); b += kReduceChunk) {
      std::fill(piece.begin(), piece.end(), A(0));
      for (int64_t j = b; j < std::min(R, b + kReduceChunk); ++j) {
        const T* row = x + j * cols + c0;
        for (int64_t c = 0; c < n; ++c) piece[size_t(c)] += A(row[c]);
      }
      for (int64_t c = 0; c < n; ++c) total[size_t(c)] = b == 0 ? piece[size_t(c)] : total[size_t(c)] + piece[size_t(c)];
    }
    for (int64_t c = 0; c < n; ++c) out[c0 + c] = T(total[size_t(c)]);
  });
}

// ---- var / std --------------------------------------------------------------------------------------

// Two passes in double: mean[r] = sum_j x / R, then M2 = sum_j (x - mean)^2 and
// var[r] = M2 / max(0, R - correction) (0/0 = NaN for a single element with correction 1, as PyTorch).
// out = var, or sqrt(var) when take_sqrt; mean_out receives the row means (for backward).
template <class T> void var_rows(const T* x, T* out, T* mean_out, int64_t rows, int64_t R, int64_t correction,
                                 bool take_sqrt) {
  std::vector<double> mean(static_cast<size_t>(rows));
  reduce_rows<double>(
      rows, R,
      [x, R](int64_t r, int64_t b, int64_t e) {
        double acc = 0;
        for (int64_t j = b; j < e; ++j) acc += double(x[r * R + j]);
        return acc;
      },
      [](double a, double b) { return a + b; }, [&](int64_t r, double acc) { mean[size_t(r)] = acc / double(R); });
  const double denom = double(std::max<int64_t>(0, R - correction));
  reduce_rows<double>(
      rows, R,
      [&](int64_t r, int64_t b, int64_t e) {
        double acc = 0, m = mean[size_t(r)];
        for (int64_t j = b; j < e; ++j) {
          double d = double(x[r * R + j]) - m;
          acc += d * d;
        }
        return acc;
      },
      [](double a, double b) { return a + b; },
      [&](int64_t r, double m2) {
        double v = m2 / denom;
        out[r] = T(take_sqrt ? std::sqrt(v) : v);
        mean_out[r] = T(mean[size_t(r)]);
      });
}

// var = sum_j (x_j - mean)^2 / (R - c)  =>  dvar/dx_j = 2 (x_j - mean) / (R - c)
// std = sqrt(var)                       =>  dstd/dx_j = (x_j - mean) / ((R - c) std), and 0 where
//                                           std == 0 (PyTorch masks that case instead of dividing by 0)
template <class T> void var_backward_rows(const T* x, const T* mean, const T* y, const T* dy, T* dx, int64_t rows,
                                          int64_t R, int64_t correction, bool is_std) {
  const T denom = T(std::max<int64_t>(0, R - correction));
  for_each_row_element(rows, R, [&](int64_t r, int64_t j) {
    T coef = is_std ? (y[r] == T(0) ? T(0) : dy[r] / (denom * y[r])) : T(2) * dy[r] / denom;
    dx[r * R + j] = coef * (x[r * R + j] - mean[r]);
  });
}

// ---- max / min and their indices --------------------------------------------------------------------

// The extreme value of each row and the index of its first occurrence (PyTorch's tie rule); a NaN
// beats everything (max and min propagate NaN), the first NaN wins. `values` or `indices` may be null.
// Rows must not be empty (R > 0).
template <class T, bool IsMax>
void extremum_rows_impl(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R) {
  struct VI { T v; int64_t i; };
  // b (later elements) replaces a only when strictly better, so ties keep the first index.
  auto better = [](const VI& a, const VI& b) {
    if (is_nan(a.v)) return false;
    if (is_nan(b.v)) return true;
    return IsMax ? b.v > a.v : b.v < a.v;
  };
  reduce_rows<VI>(
      rows, R,
      [x, R, &better](int64_t r, int64_t b, int64_t e) {
        VI acc{x[r * R + b], b};
        for (int64_t j = b + 1; j < e; ++j)
          if (better(acc, VI{x[r * R + j], j})) acc = {x[r * R + j], j};
        return acc;
      },
      [&better](const VI& a, const VI& b) { return better(a, b) ? b : a; },
      [values, indices](int64_t r, const VI& acc) {
        if (values) values[r] = acc.v;
        if (indices) indices[r] = acc.i;
      });
}

template <class T>
void extremum_rows(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R, bool is_max) {
  if (is_max) extremum_rows_impl<T, true>(x, values, indices, rows, R);
  else extremum_rows_impl<T, false>(x, values, indices, rows, R);
}

// max(x, dim) backward: the gradient goes to the selected element only, dx[r, idx[r]] = dy[r].
template <class T> void scatter_rows(const int64_t* idx, const T* dy, T* dx, int64_t rows, int64_t R) {
  for_each_row_element(rows, R, [&](int64_t r, int64_t j) { dx[r * R + j] = j == idx[r] ? dy[r] : T(0); });
}

// Backward of a value selected by a full max/min (or the inf-norm): PyTorch's evenly_distribute_backward.
// The elements equal to y[r] (all NaNs when y[r] is NaN) share dy[r] equally: dx = dy / count at
// them, 0 elsewhere. With use_abs (the inf-norm, y = max_j |x_j|) the match is |x| == y and the
// share is multiplied by sgn(x).
template <class T> void distribute_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R,
                                        bool use_abs) {
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * R;
      auto match = [&](T v) {
        T a = use_abs ? std::abs(v) : v;
        return is_nan(y[r]) ? is_nan(a) : a == y[r];
      };
      int64_t count = 0;
      for (int64_t j = 0; j < R; ++j) count += match(xr[j]);
      const T share = dy[r] / T(count);
      for (int64_t j = 0; j < R; ++j) {
        T sgn = use_abs ? T((xr[j] > T(0)) - (xr[j] < T(0))) : T(1);
        dx[r * R + j] = match(xr[j]) ? sgn * share : T(0);
      }
    }
  });
}

// ---- logsumexp ----------------------------------------------------------------------------------------

// out[r] = m + log(sum_j exp(x_j - m)) with m = max_j x_j, so no exp overflows. An infinite m is
// replaced by 0 in the shift (all -inf gives log(0) = -inf; any +inf gives +inf), as PyTorch.
template <class T> void logsumexp_rows(const T* x, T* out, int64_t rows, int64_t R) {
  if (R == 0) {   // log(0): an empty sum
    std::fill(out, out + rows, -std::numeric_limits<T>::infinity());
    return;
  }
  std::vector<T> m(static_cast<size_t>(rows));
  extremum_rows_impl<T, true>(x, m.data(), nullptr, rows, R);
  reduce_rows<double>(
      rows, R,
      [&](int64_t r, int64_t b, int64_t e) {
        double shift = std::isinf(m[size_t(r)]) ? 0.0 : double(m[size_t(r)]);
        double acc = 0;
        for (int64_t j = b; j < e; ++j) acc += std::exp(double(x[r * R + j]) - shift);
        return acc;
      },
      [](double a, double b) { return a + b; },
      [&](int64_t r, double s) {
        double shift = std::isinf(m[size_t(r)]) ? 0.0 : double(m[size_t(r)]);
        out[r] = T(std::log(s) + shift);
      });
}

// y = log sum_j exp(x_j)  =>  dy/dx_j = exp(x_j) / sum_k exp(x_k) = exp(x_j - y)
template <class T> void logsumexp_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R) {
  for_each_row_element(rows, R, [&](int64_t r, int64_t j) { dx[r * R + j] = dy[r] * std::exp(x[r * R + j] - y[r]); });
}

// ---- p-norm -----------------------------------------------------------------------------------------

// out[r] = (sum_j |x_j|^p)^(1/p); p = inf gives max_j |x_j|. p = 1 and 2 skip the pow calls.
template <class T> void norm_rows(const T* x, T* out, int64_t rows, int64_t R, double p) {
  if (std::isinf(p)) {
    reduce_rows<T>(
        rows, R,
        [x, R](int64_t r, int64_t b, int64_t e) {
          T acc = T(0);
          for (int64_t j = b; j < e; ++j) {
            T a = std::abs(x[r * R + j]);
            if (is_nan(a) || a > acc) acc = a;
            if (is_nan(acc)) break;
          }
          return acc;
        },
        [](T a, T b) { return is_nan(a) || a >= b ? a : b; }, [out](int64_t r, T acc) { out[r] = acc; });
    return;
  }
  reduce_rows<double>(
      rows, R,
      [x, R, p](int64_t r, int64_t b, int64_t e) {
        double acc = 0;
        if (p == 1.0) for (int64_t j = b; j < e; ++j) acc += std::abs(double(x[r * R + j]));
        else if (p == 2.0) for (int64_t j = b; j < e; ++j) acc += double(x[r * R + j]) * double(x[r * R + j]);
        else for (int64_t j = b; j < e; ++j) acc += std::pow(std::abs(double(x[r * R + j])), p);
        return acc;
      },
      [](double a, double b) { return a + b; },
      [out, p](int64_t r, double s) { out[r] = T(p == 1.0 ? s : p == 2.0 ? std::sqrt(s) : std::pow(s, 1.0 / p)); });
}

// y = (sum_j |x_j|^p)^(1/p)  =>  dy/dx_j = sgn(x_j) |x_j|^(p-1) / y^(p-1)   (p = 2: x_j / y)
// As PyTorch's norm_backward: 0 where y == 0 (p >= 1); for p < 1 the form
// sgn(x) |x|^(p-1) y^(1-p) with 0 where x == 0; p = 1 is sgn(x). (The inf-norm uses distribute_rows.)
template <class T> void norm_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R,
                                           double p) {
  for_each_row_element(rows, R, [&](int64_t r, int64_t j) {
    const T v = x[r * R + j], n = y[r];
    const T sgn = T((v > T(0)) - (v < T(0)));
    T g;
    if (p == 1.0) g = sgn;
    else if (p == 2.0) g = n == T(0) ? T(0) : v / n;
    else if (p < 1.0) g = v == T(0) ? T(0) : sgn * std::pow(std::abs(v), T(p - 1)) * std::pow(n, T(1 - p));
    else g = n == T(0) ? T(0) : sgn * std::pow(std::abs(v), T(p - 1)) / std::pow(n, T(p - 1));
    dx[r * R + j] = g * dy[r];
  });
}

}  // namespace atto::cpu
