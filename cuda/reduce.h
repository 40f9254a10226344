// cuda/reduce.h -- row reductions on the GPU (internal): the twin of tensor/cpu/reduce.h, same names
// and parameters, so ATTO_ON_DEVICE (tensor/dispatch.h) picks either. Plain C++ declarations; the
// kernels and their explicit instantiations are in cuda/reduce.cu.
//
// Shapes: x is (rows, R) contiguous (autograd/functions/reduce.cpp lays every reduction out so);
// a row result (out, mean, y, dy, values, indices) has `rows` elements; a backward result dx is
// (rows, R). sum_columns takes x as (R, cols) and sums down the columns.
#pragma once
#include <cstdint>

namespace atto::cuda {

// out[r] = sum_j x[r, j]                                      (T: float, double, int64_t)
template <class T> void sum_rows(const T* x, T* out, int64_t rows, int64_t R);
// out[c] = sum_j x[j, c] for x (R, cols)                      (T: float, double, int64_t)
template <class T> void sum_columns(const T* x, T* out, int64_t R, int64_t cols);

// var (or std when take_sqrt) of each row with R - correction in the denominator; mean_out gets the
// row means for backward.                                     (T: float, double)
template <class T>
void var_rows(const T* x, T* out, T* mean_out, int64_t rows, int64_t R, int64_t correction, bool take_sqrt);
template <class T>
void var_backward_rows(const T* x, const T* mean, const T* y, const T* dy, T* dx, int64_t rows, int64_t R,
                       int64_t correction, bool is_std);

// The max (is_max) or min of each row and the index of its first occurrence; NaN wins, the first
// NaN's index. values or indices may be null. R > 0.            (T: float, double, int64_t)
template <class T>
void extremum_rows(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R, bool is_max);
// dx[r, idx[r]] = dy[r], 0 elsewhere.                          (T: float, double)
template <class T> void scatter_rows(const int64_t* idx, const T* dy, T* dx, int64_t rows, int64_t R);
// dy[r] shared equally by the elements equal to y[r] (|x| == y with use_abs, times sgn(x)).
template <class T>
void distribute_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R, bool use_abs);

// out[r] = log sum_j exp(x[r, j]), shifted by the row max.      (T: float, double)
template <class T> void logsumexp_rows(const T* x, T* out, int64_t rows, int64_t R);
template <class T>
void logsumexp_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R);

// out[r] = (sum_j |x[r, j]|^p)^(1/p), p = inf: max_j |x[r, j]|.  (T: float, double)
template <class T> void norm_rows(const T* x, T* out, int64_t rows, int64_t R, double p);
template <class T>
void norm_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R, double p);

}  // namespace atto::cuda
