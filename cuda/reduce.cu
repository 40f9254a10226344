// cuda/reduce.cu -- row reductions on the GPU: the twin of tensor/cpu/reduce.h (declarations in
// cuda/reduce.h). x is (rows, R) contiguous; each row is reduced by one group of threads (a warp for
// short rows, the block for long ones: NOTE [ Row groups ] in cuda/rows.cuh) with a fixed tree, so
// results are the same on every run. The formulas, accumulator types (double for float sums),
// NaN rules and tie rules are the CPU's; only the order of the additions differs.
#include "cuda/reduce.h"
#include "cuda/rows.cuh"

namespace atto::cuda {

namespace {

// ---- sum ------------------------------------------------------------------------------------------

template <int G, class T> __global__ void sum_rows_kernel(const T* x, T* out, int64_t rows, int64_t R) {
  using A = acc_t<T>;
  __shared__ A shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    A acc = A(0);
    for (int64_t j = lane; j < R; j += G) acc += A(xr[j]);
    acc = group_reduce<G>(acc, SumOp{}, A(0), shared);
    if (lane == 0) out[r] = T(acc);
  }
}

template <class T> struct ColumnTerm {   // x (R, cols) read down column c
  const T* x;
  int64_t cols;
  __device__ acc_t<T> operator()(int64_t j, int64_t c) const { return acc_t<T>(x[j * cols + c]); }
};

// ---- var / std --------------------------------------------------------------------------------------

// Two passes in double, as the CPU: mean = sum / R, then M2 = sum (x - mean)^2, var = M2 / denom.
template <int G, class T>
__global__ void var_rows_kernel(const T* x, T* out, T* mean_out, int64_t rows, int64_t R, double denom,
                                bool take_sqrt) {
  __shared__ double shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    double s = 0;
    for (int64_t j = lane; j < R; j += G) s += double(xr[j]);
    const double mean = group_reduce<G>(s, SumOp{}, 0.0, shared) / double(R);
    double m2 = 0;
    for (int64_t j = lane; j < R; j += G) {
      const double d = double(xr[j]) - mean;
      m2 += d * d;
    }
    m2 = group_reduce<G>(m2, SumOp{}, 0.0, shared);
    if (lane == 0) {
      const double v = m2 / denom;   // 0/0 = NaN for one element with correction 1, as PyTorch
      out[r] = T(take_sqrt ? sqrt(v) : v);
      mean_out[r] = T(mean);
    }
  }
}

// ---- max / min ----------------------------------------------------------------------------------------

// A candidate for the extreme of a row: value and index; i < 0 marks "no element" (the identity).
template <class T> struct ValIdx {
  T v;
  int64_t i;
};
template <class T> __device__ ValIdx<T> shfl_down(ValIdx<T> a, int offset) {
  return {cuda::shfl_down(a.v, offset), cuda::shfl_down(a.i, offset)};
}
template <class T> __device__ ValIdx<T> shfl_first(ValIdx<T> a) { return {cuda::shfl_first(a.v), cuda::shfl_first(a.i)}; }

// The preferred of two candidates: NaN beats everything, then the larger (smaller) value, and
// among equals (NaNs included) the smaller index. A total order, so any tree of picks gives the
// CPU's answer: the first occurrence of the extreme, the first NaN if there is one.
template <class T, bool IsMax> struct PickExtreme {
  __device__ ValIdx<T> operator()(const ValIdx<T>& a, const ValIdx<T>& b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool a_nan = is_nan(a.v), b_nan = is_nan(b.v);
    if (a_nan != b_nan) return a_nan ? a : b;
    if (a_nan || a.v == b.v) return a.i < b.i ? a : b;
    return (IsMax ? a.v > b.v : a.v < b.v) ? a : b;
  }
};

template <int G, class T, bool IsMax>
__global__ void extremum_rows_kernel(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R) {
  __shared__ ValIdx<T> shared[kWarp];
  const PickExtreme<T, IsMax> pick;
  const ValIdx<T> none{T(0), -1};
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    ValIdx<T> best = none;
    for (int64_t j = lane; j < R; j += G) best = pick(best, ValIdx<T>{xr[j], j});
    best = group_reduce<G>(best, pick, none, shared);
    if (lane == 0) {
      if (values) values[r] = best.v;
      if (indices) indices[r] = best.i;
    }
  }
}

// Pass 1 counts the elements matching y[r] (exact integer sum), pass 2 writes their shares.
template <int G, class T>
__global__ void distribute_rows_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R,
                                       bool use_abs) {
  __shared__ int64_t shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    const T target = y[r];
    auto match = [&](T v) {
      const T a = use_abs ? dev_abs(v) : v;
      return is_nan(target) ? is_nan(a) : a == target;
    };
    int64_t count = 0;
    for (int64_t j = lane; j < R; j += G) count += match(xr[j]);
    count = group_reduce<G>(count, SumOp{}, int64_t(0), shared);
    const T share = dy[r] / T(count);
    for (int64_t j = lane; j < R; j += G) {
      const T sgn = use_abs ? sign_of(xr[j]) : T(1);
      dx[r * R + j] = match(xr[j]) ? sgn * share : T(0);
    }
  }
}

// ---- logsumexp ----------------------------------------------------------------------------------------

// m = max_j x_j (NaN wins); shift = m unless m is infinite (then 0: all -inf gives log(0) = -inf, any
// +inf gives +inf); out = log(sum_j exp(x_j - shift)) + shift in double. R == 0 gives -inf here
// too (m = -inf, an empty sum), as the CPU's special case.
template <int G, class T> __global__ void logsumexp_rows_kernel(const T* x, T* out, int64_t rows, int64_t R) {
  __shared__ T shared_max[kWarp];
  __shared__ double shared_sum[kWarp];
  const int lane = group_lane<G>();
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    T m = neg_inf;
    for (int64_t j = lane; j < R; j += G) m = MaxOp{}(m, xr[j]);
    m = group_reduce<G>(m, MaxOp{}, neg_inf, shared_max);
    const double shift = is_inf(m) ? 0.0 : double(m);
    double s = 0;
    for (int64_t j = lane; j < R; j += G) s += exp(double(xr[j]) - shift);
    s = group_reduce<G>(s, SumOp{}, 0.0, shared_sum);
    if (lane == 0) out[r] = T(log(s) + shift);
  }
}

// ---- p-norm -----------------------------------------------------------------------------------------

template <int G, class T> __global__ void norm_inf_rows_kernel(const T* x, T* out, int64_t rows, int64_t R) {
  __shared__ T shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    T m = T(0);   // the max of no elements is 0 here, as the CPU's
    for (int64_t j = lane; j < R; j += G) m = MaxOp{}(m, dev_abs(xr[j]));
    m = group_reduce<G>(m, MaxOp{}, T(0), shared);
    if (lane == 0) out[r] = m;
  }
}

template <int G, class T> __global__ void norm_rows_kernel(const T* x, T* out, int64_t rows, int64_t R, double p) {
  __shared__ double shared[kWarp];
  const int lane = group_lane<G>();
  for (int64_t r = group_first_row<G>(); r < rows; r += group_row_stride<G>()) {
    const T* xr = x + r * R;
    double s = 0;
    if (p == 1.0) for (int64_t j = lane; j < R; j += G) s += fabs(double(xr[j]));
    else if (p == 2.0) for (int64_t j = lane; j < R; j += G) s += double(xr[j]) * double(xr[j]);
    else for (int64_t j = lane; j < R; j += G) s += pow(fabs(double(xr[j])), p);
    s = group_reduce<G>(s, SumOp{}, 0.0, shared);
    if (lane == 0) out[r] = T(p == 1.0 ? s : p == 2.0 ? sqrt(s) : pow(s, 1.0 / p));
  }
}

// ---- elementwise backward functors: fn(r, i) for i = r * R + j ---------------------------------------

template <class T> struct VarBackward {
  const T *x, *mean, *y, *dy;
  T* dx;
  T denom;
  bool is_std;
  __device__ void operator()(int64_t r, int64_t i) const {
    const T coef = is_std ? (y[r] == T(0) ? T(0) : dy[r] / (denom * y[r])) : T(2) * dy[r] / denom;
    dx[i] = coef * (x[i] - mean[r]);
  }
};

template <class T> struct ScatterBackward {
  const int64_t* idx;
  const T* dy;
  T* dx;
  int64_t R;
  __device__ void operator()(int64_t r, int64_t i) const { dx[i] = i - r * R == idx[r] ? dy[r] : T(0); }
};

template <class T> struct LogSumExpBackward {   // dx = dy * exp(x - y)
  const T *x, *y, *dy;
  T* dx;
  __device__ void operator()(int64_t r, int64_t i) const { dx[i] = dy[r] * dev_exp(x[i] - y[r]); }
};

template <class T> struct NormBackward {   // the CPU's norm_backward_rows, case by case
  const T *x, *y, *dy;
  T* dx;
  double p;
  __device__ void operator()(int64_t r, int64_t i) const {
    const T v = x[i], n = y[r];
    const T sgn = sign_of(v);
    T g;
    if (p == 1.0) g = sgn;
    else if (p == 2.0) g = n == T(0) ? T(0) : v / n;
    else if (p < 1.0) g = v == T(0) ? T(0) : sgn * dev_pow(dev_abs(v), T(p - 1)) * dev_pow(n, T(1 - p));
    else g = n == T(0) ? T(0) : sgn * dev_pow(dev_abs(v), T(p - 1)) / dev_pow(n, T(p - 1));
    dx[i] = g * dy[r];
  }
};

}  // namespace

// ---- launchers ------------------------------------------------------------------------------------------

template <class T> void sum_rows(const T* x, T* out, int64_t rows, int64_t R) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(out));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    sum_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, out, rows, R);
    CUDA_CHECK_LAUNCH("sum_rows_kernel");
  });
}

template <class T> void sum_columns(const T* x, T* out, int64_t R, int64_t cols) {
  if (cols == 0) return;
  const int dev = device_of(out);
  column_sums<acc_t<T>>(ColumnTerm<T>{x, cols}, out, R, cols, dev, stream(dev));
}

template <class T>
void var_rows(const T* x, T* out, T* mean_out, int64_t rows, int64_t R, int64_t correction, bool take_sqrt) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(out));
  const double denom = double(std::max<int64_t>(0, R - correction));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    var_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, out, mean_out, rows, R, denom, take_sqrt);
    CUDA_CHECK_LAUNCH("var_rows_kernel");
  });
}

template <class T>
void var_backward_rows(const T* x, const T* mean, const T* y, const T* dy, T* dx, int64_t rows, int64_t R,
                       int64_t correction, bool is_std) {
  if (rows * R == 0) return;
  const T denom = T(std::max<int64_t>(0, R - correction));
  for_each_row_element(VarBackward<T>{x, mean, y, dy, dx, denom, is_std}, rows, R, stream(device_of(dx)));
}

template <class T>
void extremum_rows(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R, bool is_max) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(values ? static_cast<const void*>(values) : indices));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    if (is_max) extremum_rows_kernel<G, T, true><<<row_blocks(rows, G), kThreads, 0, s>>>(x, values, indices, rows, R);
    else extremum_rows_kernel<G, T, false><<<row_blocks(rows, G), kThreads, 0, s>>>(x, values, indices, rows, R);
    CUDA_CHECK_LAUNCH("extremum_rows_kernel");
  });
}

template <class T> void scatter_rows(const int64_t* idx, const T* dy, T* dx, int64_t rows, int64_t R) {
  if (rows * R == 0) return;
  for_each_row_element(ScatterBackward<T>{idx, dy, dx, R}, rows, R, stream(device_of(dx)));
}

template <class T>
void distribute_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R, bool use_abs) {
  if (rows * R == 0) return;
  cudaStream_t s = stream(device_of(dx));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    distribute_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, y, dy, dx, rows, R, use_abs);
    CUDA_CHECK_LAUNCH("distribute_rows_kernel");
  });
}

template <class T> void logsumexp_rows(const T* x, T* out, int64_t rows, int64_t R) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(out));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    logsumexp_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, out, rows, R);
    CUDA_CHECK_LAUNCH("logsumexp_rows_kernel");
  });
}

template <class T>
void logsumexp_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R) {
  if (rows * R == 0) return;
  for_each_row_element(LogSumExpBackward<T>{x, y, dy, dx}, rows, R, stream(device_of(dx)));
}

template <class T> void norm_rows(const T* x, T* out, int64_t rows, int64_t R, double p) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(out));
  with_row_group(R, [&](auto g) {
    constexpr int G = decltype(g)::value;
    if (std::isinf(p)) norm_inf_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, out, rows, R);
    else norm_rows_kernel<G, T><<<row_blocks(rows, G), kThreads, 0, s>>>(x, out, rows, R, p);
    CUDA_CHECK_LAUNCH("norm_rows_kernel");
  });
}

template <class T>
void norm_backward_rows(const T* x, const T* y, const T* dy, T* dx, int64_t rows, int64_t R, double p) {
  if (rows * R == 0) return;
  for_each_row_element(NormBackward<T>{x, y, dy, dx, p}, rows, R, stream(device_of(dx)));
}

// ---- explicit instantiations: the (T) each call site in autograd/functions/reduce.cpp uses ------------

#define ATTO_REDUCE_NUMERIC(T)                                                                         \
  template void sum_rows<T>(const T*, T*, int64_t, int64_t);                                           \
  template void sum_columns<T>(const T*, T*, int64_t, int64_t);                                        \
  template void extremum_rows<T>(const T*, T*, int64_t*, int64_t, int64_t, bool);
#define ATTO_REDUCE_FLOATING(T)                                                                        \
  template void var_rows<T>(const T*, T*, T*, int64_t, int64_t, int64_t, bool);                        \
  template void var_backward_rows<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t,     \
                                     int64_t, bool);                                                   \
  template void scatter_rows<T>(const int64_t*, const T*, T*, int64_t, int64_t);                       \
  template void distribute_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t, bool);          \
  template void logsumexp_rows<T>(const T*, T*, int64_t, int64_t);                                     \
  template void logsumexp_backward_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t);        \
  template void norm_rows<T>(const T*, T*, int64_t, int64_t, double);                                  \
  template void norm_backward_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t, double);

ATTO_REDUCE_NUMERIC(float)
ATTO_REDUCE_NUMERIC(double)
ATTO_REDUCE_NUMERIC(int64_t)
ATTO_REDUCE_FLOATING(float)
ATTO_REDUCE_FLOATING(double)

#undef ATTO_REDUCE_NUMERIC
#undef ATTO_REDUCE_FLOATING

}  // namespace atto::cuda
