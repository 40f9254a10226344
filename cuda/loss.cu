// cuda/loss.cu -- the CUDA loss kernels (twin of tensor/cpu/loss.h; declarations in cuda/loss.h).
//
// Shapes: x / dx (rows, C) contiguous, target / loss / wt / lse (rows), weight (C) or null, g read
// at g[r * g_stride] (stride 0: one upstream value for a reduced loss). Sums run in acc (double for
// float, as the CPU's acc_t) with the fixed trees of NOTE [ Deterministic reductions ]
// (cuda/launch.cuh): the same input gives the same bits on every run.
#include <cmath>
#include <utility>

#include "cuda/launch.cuh"
#include "cuda/loss.h"
#include "cuda/runtime.h"
#include "cuda/scratch.h"

namespace atto::cuda {

namespace {

template <class T> using acc_of = std::conditional_t<std::is_same_v<T, float>, double, T>;

__device__ inline int64_t thread_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t thread_stride() { return int64_t(gridDim.x) * blockDim.x; }

// ---- cross_entropy / nll ---------------------------------------------------------------------------

// One block per row: max, sum of exp, lse, then the loss with ignore_index, weights and label
// smoothing exactly as the CPU kernel. Every branch below depends on the row only, so all threads
// of a block take it together (block_max / block_sum need every thread).
template <class T>
__global__ void cross_entropy_rows_kernel(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C,
                                          int64_t ignore, double eps, T* loss, T* wt, T* lse) {
  using A = acc_of<T>;
  __shared__ A shared[kWarp];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * C;
    A m = -INFINITY;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) m = MaxOp{}(m, A(xr[j]));
    m = block_max(m, shared);
    if (!isfinite(m)) m = 0;   // all -inf (or a NaN): let the sum below produce inf/NaN
    A s = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += exp(A(xr[j]) - m);
    s = block_sum(s, shared);
    const A l = m + log(s);
    const int64_t t = target[r];
    if (t == ignore) {
      if (threadIdx.x == 0) {
        lse[r] = T(l);
        loss[r] = 0;
        wt[r] = 0;
      }
      continue;
    }
    A smooth = 0;
    if (eps > 0) {
      for (int64_t j = threadIdx.x; j < C; j += blockDim.x) smooth += (weight ? A(weight[j]) : A(1)) * (l - A(xr[j]));
      smooth = block_sum(smooth, shared);
    }
    if (threadIdx.x == 0) {
      const A wt_r = weight ? A(weight[t]) : A(1);
      A out = (1 - eps) * wt_r * (l - A(xr[t]));
      if (eps > 0) out += eps / double(C) * smooth;
      lse[r] = T(l);
      loss[r] = T(out);
      wt[r] = T(wt_r);
    }
  }
}

// W = sum_j w_j into *W (one block), for the label-smoothing term of the backward.
template <class T> __global__ void weight_sum_kernel(const T* weight, int64_t C, acc_of<T>* W) {
  using A = acc_of<T>;
  __shared__ A shared[kWarp];
  A s = 0;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += A(weight[j]);
  s = block_sum(s, shared);
  if (threadIdx.x == 0) *W = s;
}

// One thread per element of dx (no reduction: lse is saved); W is null without weights (then C).
template <class T>
__global__ void cross_entropy_rows_backward_kernel(const T* x, const int64_t* target, const T* weight,
                                                   const acc_of<T>* W_sum, const T* lse, const T* g, int64_t g_stride,
                                                   double scale, int64_t rows, int64_t C, int64_t ignore, double eps,
                                                   T* dx) {
  using A = acc_of<T>;
  const A W = W_sum ? *W_sum : A(C);
  const int64_t total = rows * C;
  for (int64_t e = thread_index(); e < total; e += thread_stride()) {
    const int64_t r = e / C, k = e % C;
    const int64_t t = target[r];
    if (t == ignore) {
      dx[e] = T(0);
      continue;
    }
    const A gr = A(g[r * g_stride]) * scale;
    const A a = (1 - eps) * (weight ? A(weight[t]) : A(1));
    const A c = eps / double(C);
    const A p = exp(A(x[e]) - A(lse[r]));
    const A wk = weight ? A(weight[k]) : A(1);
    dx[e] = T(gr * (a * (p - A(k == t)) + c * (W * p - wk)));
  }
}

template <class T>
__global__ void nll_rows_kernel(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C,
                                int64_t ignore, T* loss, T* wt) {
  for (int64_t r = thread_index(); r < rows; r += thread_stride()) {
    const int64_t t = target[r];
    const T w = t == ignore ? T(0) : weight ? weight[t] : T(1);
    loss[r] = t == ignore ? T(0) : -w * x[r * C + t];
    wt[r] = w;
  }
}

template <class T>
__global__ void nll_rows_backward_kernel(const int64_t* target, const T* weight, const T* g, int64_t g_stride,
                                         double scale, int64_t rows, int64_t C, int64_t ignore, T* dx) {
  using A = acc_of<T>;
  for (int64_t r = thread_index(); r < rows; r += thread_stride()) {
    const int64_t t = target[r];
    if (t == ignore) continue;
    dx[r * C + t] = T(-A(weight ? weight[t] : T(1)) * A(g[r * g_stride]) * scale);
  }
}

// ---- reduce_loss: two deterministic passes ---------------------------------------------------------

// Pass 1: block b sums the elements b*threads + tid, stepping by the grid, into part[b] (and the
// weights into part_wt[b] when wt is given). The grid depends on n only, so the tree is fixed.
template <class T>
__global__ void loss_partial_sums_kernel(const T* loss, const T* wt, int64_t n, acc_of<T>* part, acc_of<T>* part_wt) {
  using A = acc_of<T>;
  __shared__ A shared[kWarp];
  A s = 0, w = 0;
  for (int64_t i = thread_index(); i < n; i += thread_stride()) {
    s += A(loss[i]);
    if (wt) w += A(wt[i]);
  }
  s = block_sum(s, shared);
  if (wt) w = block_sum(w, shared);
  if (threadIdx.x == 0) {
    part[blockIdx.x] = s;
    if (wt) part_wt[blockIdx.x] = w;
  }
}

// Pass 2 (one block): the parts in a fixed tree; then, as the CPU does, the sums rounded to T and
// *out = total / divisor computed in double. *div_out gets the divisor.
template <class T>
__global__ void loss_finish_kernel(const acc_of<T>* part, const acc_of<T>* part_wt, int parts, int64_t n, bool mean,
                                   T* out, double* div_out) {
  using A = acc_of<T>;
  __shared__ A shared[kWarp];
  A s = 0, w = 0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) {
    s += part[i];
    if (part_wt) w += part_wt[i];
  }
  s = block_sum(s, shared);
  if (part_wt) w = block_sum(w, shared);
  if (threadIdx.x == 0) {
    const double div = !mean ? 1.0 : part_wt ? double(T(w)) : double(n);
    *out = T(double(T(s)) / div);
    *div_out = div;
  }
}

// ---- elementwise losses: one thread per element of the loss shape ----------------------------------

// N views of one shape (broadcast ones have stride 0); v[0] is written, the others read.
template <int N> struct Views {
  StridedView v[N];
};

template <class T, int N, class F, size_t... I>
__device__ T call_with(const F& f, const T (&in)[N], std::index_sequence<I...>) {
  return f(in[I]...);
}

template <class T, int N, class F> __global__ void map_views_kernel(F f, Views<N + 1> views) {
  const StridedView& out = views.v[0];
  const int64_t total = out.numel();
  for (int64_t p = thread_index(); p < total; p += thread_stride()) {
    int64_t off[N + 1] = {};
    int64_t rem = p;
    for (int d = out.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % out.shape[d];
      rem /= out.shape[d];
      for (int k = 0; k <= N; ++k) off[k] += c * views.v[k].strides[d];
    }
    T in[N];
    for (int k = 0; k < N; ++k) in[k] = views.v[k + 1].template ptr<const T>()[off[k + 1]];
    out.template ptr<T>()[off[0]] = call_with<T, N>(f, in, std::make_index_sequence<N>{});
  }
}

// out = f(in...) over the views' shape, on the stream of out's device.
template <class T, class F, class... V> void map_views(const char* name, F f, StridedView out, V... in) {
  constexpr int N = sizeof...(V);
  const int64_t total = out.numel();
  if (total == 0) return;
  Views<N + 1> views{{out, in...}};
  cudaStream_t s = stream(device_of(out.data));
  map_views_kernel<T, N><<<blocks_for(total), kThreads, 0, s>>>(f, views);
  CUDA_CHECK_LAUNCH(name);
}

// softplus(-x) = log(1 + e^-x), stably: log1p(e^-|x|) + max(-x, 0).
template <class T> __device__ T softplus_neg(T x) { return log1p(exp(-fabs(x))) + (-x < T(0) ? T(0) : -x); }

template <class T> struct MseForward {
  __device__ T operator()(T a, T b) const { return (a - b) * (a - b); }
};
template <class T> struct MseBackward {
  T scale;
  __device__ T operator()(T a, T b, T g) const { return scale * T(2) * (a - b) * g; }
};
template <class T> struct BceForward {
  __device__ T operator()(T x, T t, T w, T pw) const { return w * ((1 - t) * x + (1 + (pw - 1) * t) * softplus_neg(x)); }
};
template <class T> struct BceBackwardInput {
  T scale;
  __device__ T operator()(T x, T t, T w, T pw, T g) const {
    const T sig = T(1) / (T(1) + exp(-x));
    return scale * g * w * ((pw * t + 1 - t) * sig - pw * t);
  }
};
template <class T> struct BceBackwardTarget {
  T scale;
  __device__ T operator()(T x, T, T w, T pw, T g) const { return scale * g * w * (-x + (pw - 1) * softplus_neg(x)); }
};

}  // namespace

template <class T>
void cross_entropy_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore,
                        double eps, T* loss, T* wt, T* lse) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(lse));
  const unsigned grid = unsigned(std::min<int64_t>(rows, kMaxBlocks));
  cross_entropy_rows_kernel<T><<<grid, kThreads, 0, s>>>(x, target, weight, rows, C, ignore, eps, loss, wt, lse);
  CUDA_CHECK_LAUNCH("cross_entropy_rows_kernel");
}

template <class T>
void cross_entropy_rows_backward(const T* x, const int64_t* target, const T* weight, const T* lse, const T* g,
                                 int64_t g_stride, double scale, int64_t rows, int64_t C, int64_t ignore, double eps,
                                 T* dx) {
  using A = acc_of<T>;
  if (rows * C == 0) return;
  const int dev = device_of(dx);
  cudaStream_t s = stream(dev);
  DeviceBuffer<char> W_sum(weight ? sizeof(A) : 0, dev);
  if (weight) {
    weight_sum_kernel<T><<<1, kThreads, 0, s>>>(weight, C, W_sum.as<A>());
    CUDA_CHECK_LAUNCH("weight_sum_kernel");
  }
  cross_entropy_rows_backward_kernel<T><<<blocks_for(rows * C), kThreads, 0, s>>>(
      x, target, weight, W_sum.as<A>(), lse, g, g_stride, scale, rows, C, ignore, eps, dx);
  CUDA_CHECK_LAUNCH("cross_entropy_rows_backward_kernel");
}

template <class T>
void nll_rows(const T* x, const int64_t* target, const T* weight, int64_t rows, int64_t C, int64_t ignore, T* loss,
              T* wt) {
  if (rows == 0) return;
  cudaStream_t s = stream(device_of(wt));
  nll_rows_kernel<T><<<blocks_for(rows), kThreads, 0, s>>>(x, target, weight, rows, C, ignore, loss, wt);
  CUDA_CHECK_LAUNCH("nll_rows_kernel");
}

template <class T>
void nll_rows_backward(const int64_t* target, const T* weight, const T* g, int64_t g_stride, double scale, int64_t rows,
                       int64_t C, int64_t ignore, T* dx) {
  if (rows * C == 0) return;
  cudaStream_t s = stream(device_of(dx));
  nll_rows_backward_kernel<T><<<blocks_for(rows), kThreads, 0, s>>>(target, weight, g, g_stride, scale, rows, C,
                                                                     ignore, dx);
  CUDA_CHECK_LAUNCH("nll_rows_backward_kernel");
}

template <class T> double reduce_loss(const T* loss, const T* wt, int64_t n, bool mean, T* out) {
  using A = acc_of<T>;
  const int dev = device_of(out);
  cudaStream_t s = stream(dev);
  // At least 8 elements per thread of pass 1, at most 1024 parts for pass 2: a function of n alone.
  const int parts = int(std::clamp<int64_t>((n + kThreads * 8 - 1) / (kThreads * 8), 1, 1024));
  const size_t part_bytes = sizeof(A) * size_t(parts);
  DeviceBuffer<char> scratch(2 * part_bytes + sizeof(double), dev);
  A* part = scratch.as<A>();
  A* part_wt = wt ? reinterpret_cast<A*>(scratch.as<char>() + part_bytes) : nullptr;
  double* div_dev = reinterpret_cast<double*>(scratch.as<char>() + 2 * part_bytes);
  loss_partial_sums_kernel<T><<<parts, kThreads, 0, s>>>(loss, wt, n, part, part_wt);
  CUDA_CHECK_LAUNCH("loss_partial_sums_kernel");
  loss_finish_kernel<T><<<1, kThreads, 0, s>>>(part, part_wt, parts, n, mean, out, div_dev);
  CUDA_CHECK_LAUNCH("loss_finish_kernel");
  double div = !mean ? 1.0 : double(n);
  if (mean && wt) memcpy(&div, div_dev, sizeof(double), CopyKind::DeviceToHost, dev);   // waits for the kernels
  return div;
}

template <class T> void mse_forward(StridedView out, StridedView a, StridedView b) {
  map_views<T>("mse_forward", MseForward<T>{}, out, a, b);
}

template <class T> void mse_backward(StridedView d, StridedView a, StridedView b, StridedView g, T scale) {
  map_views<T>("mse_backward", MseBackward<T>{scale}, d, a, b, g);
}

template <class T> void bce_logits_forward(StridedView out, StridedView x, StridedView t, StridedView w, StridedView pw) {
  map_views<T>("bce_logits_forward", BceForward<T>{}, out, x, t, w, pw);
}

template <class T>
void bce_logits_backward(bool wrt_target, StridedView d, StridedView x, StridedView t, StridedView w, StridedView pw,
                         StridedView g, T scale) {
  if (!wrt_target)
    map_views<T>("bce_logits_backward", BceBackwardInput<T>{scale}, d, x, t, w, pw, g);
  else
    map_views<T>("bce_logits_backward", BceBackwardTarget<T>{scale}, d, x, t, w, pw, g);
}

// What autograd/functions/losses.cpp instantiates (visit_floating): float and double.
#define ATTO_LOSS_INSTANTIATE(T)                                                                                    \
  template void cross_entropy_rows<T>(const T*, const int64_t*, const T*, int64_t, int64_t, int64_t, double, T*, T*, \
                                      T*);                                                                          \
  template void cross_entropy_rows_backward<T>(const T*, const int64_t*, const T*, const T*, const T*, int64_t,      \
                                               double, int64_t, int64_t, int64_t, double, T*);                      \
  template void nll_rows<T>(const T*, const int64_t*, const T*, int64_t, int64_t, int64_t, T*, T*);                 \
  template void nll_rows_backward<T>(const int64_t*, const T*, const T*, int64_t, double, int64_t, int64_t, int64_t, \
                                     T*);                                                                           \
  template double reduce_loss<T>(const T*, const T*, int64_t, bool, T*);                                            \
  template void mse_forward<T>(StridedView, StridedView, StridedView);                                              \
  template void mse_backward<T>(StridedView, StridedView, StridedView, StridedView, T);                             \
  template void bce_logits_forward<T>(StridedView, StridedView, StridedView, StridedView, StridedView);             \
  template void bce_logits_backward<T>(bool, StridedView, StridedView, StridedView, StridedView, StridedView,       \
                                       StridedView, T);
ATTO_LOSS_INSTANTIATE(float)
ATTO_LOSS_INSTANTIATE(double)
#undef ATTO_LOSS_INSTANTIATE

}  // namespace atto::cuda
