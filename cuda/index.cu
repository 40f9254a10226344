// cuda/index.cu -- the CUDA indexing kernels (twin of tensor/cpu/index.h; declarations and NOTE
// [ Deterministic scatter on CUDA ] in cuda/index.h). Every index is in range: the tensor layer
// checks a CPU copy before it calls here.
//
// Shapes (contiguous row kernels):   x / dx (outer, n, inner)   idx (k)   out / dy (outer, k, inner)
#include <cub/device/device_radix_sort.cuh>

#include <atomic>

#include "cuda/index.h"
#include "cuda/launch.cuh"
#include "cuda/runtime.h"
#include "cuda/scratch.h"

namespace atto::cuda {

namespace {

std::atomic<bool> g_deterministic_scatter{true};

__device__ inline int64_t thread_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t thread_stride() { return int64_t(gridDim.x) * blockDim.x; }

// ---- index_select_rows / index_add_rows --------------------------------------------------------------

template <class T>
__global__ void index_select_rows_kernel(const T* x, const int64_t* idx, T* out, int64_t outer, int64_t n,
                                         int64_t inner, int64_t k) {
  const int64_t total = outer * k * inner;
  for (int64_t e = thread_index(); e < total; e += thread_stride()) {
    const int64_t r = e / inner, i = e % inner, o = r / k, j = r % k;
    out[e] = x[(o * n + idx[j]) * inner + i];
  }
}

__global__ void iota_kernel(int64_t* v, int64_t k) {
  for (int64_t j = thread_index(); j < k; j += thread_stride()) v[j] = j;
}

// start[row] = the first position of `row` in the sorted keys (lower bound), for row in [0, n];
// start[n] = k since every key is below n.
__global__ void segment_starts_kernel(const uint64_t* sorted, int64_t k, int64_t* start, int64_t n) {
  for (int64_t row = thread_index(); row <= n; row += thread_stride()) {
    int64_t lo = 0, hi = k;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (sorted[mid] < uint64_t(row)) lo = mid + 1;
      else hi = mid;
    }
    start[row] = lo;
  }
}

// One thread per element of dx: adds the dy rows of its destination row in ascending j (the stable
// sort kept equal indices in j order), exactly as the CPU kernel does.
template <class T>
__global__ void index_add_rows_sorted_kernel(T* dx, const int64_t* start, const int64_t* order, const T* dy,
                                             int64_t outer, int64_t n, int64_t inner, int64_t k, int64_t skip) {
  const int64_t total = outer * n * inner;
  for (int64_t e = thread_index(); e < total; e += thread_stride()) {
    const int64_t r = e / inner, i = e % inner, o = r / n, row = r % n;
    if (row == skip) continue;
    T acc = dx[e];
    for (int64_t s = start[row]; s < start[row + 1]; ++s) acc += dy[(o * k + order[s]) * inner + i];
    dx[e] = acc;
  }
}

// The opt-in fast path: one thread per element of dy, atomically added (order varies by run).
template <class T>
__global__ void index_add_rows_atomic_kernel(T* dx, const int64_t* idx, const T* dy, int64_t outer, int64_t n,
                                             int64_t inner, int64_t k, int64_t skip) {
  const int64_t total = outer * k * inner;
  for (int64_t e = thread_index(); e < total; e += thread_stride()) {
    const int64_t r = e / inner, i = e % inner, o = r / k, j = r % k;
    const int64_t row = idx[j];
    if (row == skip) continue;
    atomicAdd(dx + (o * n + row) * inner + i, dy[e]);
  }
}

// ---- gather / scatter_add along dim ----------------------------------------------------------------

// One thread per element p of the index: out[p] = x[p with p[dim] = idx[p]].
template <class T> __global__ void gather_kernel(StridedView out, StridedView x, StridedView idx, int dim) {
  const int64_t total = idx.numel();
  for (int64_t p = thread_index(); p < total; p += thread_stride()) {
    int64_t rem = p, oi = 0, oo = 0, ox = 0;
    for (int d = idx.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % idx.shape[d];
      rem /= idx.shape[d];
      oi += c * idx.strides[d];
      oo += c * out.strides[d];
      if (d != dim) ox += c * x.strides[d];
    }
    const int64_t i = idx.ptr<const int64_t>()[oi];
    out.ptr<T>()[oo] = x.ptr<const T>()[ox + i * x.strides[dim]];
  }
}

// Deterministic: one thread per position q outside dim owns every out element of q and adds along
// dim in ascending j, as the CPU kernel does. The parallelism is the number of such positions.
template <class T> __global__ void scatter_add_kernel(StridedView out, StridedView idx, StridedView src, int dim) {
  int64_t positions = 1;
  for (int d = 0; d < idx.ndim; ++d)
    if (d != dim) positions *= idx.shape[d];
  const int64_t len = idx.shape[dim];
  const int64_t so = out.strides[dim], si = idx.strides[dim], ss = src.strides[dim];
  for (int64_t q = thread_index(); q < positions; q += thread_stride()) {
    int64_t rem = q, oi = 0, oo = 0, os = 0;
    for (int d = idx.ndim - 1; d >= 0; --d) {
      if (d == dim) continue;
      const int64_t c = rem % idx.shape[d];
      rem /= idx.shape[d];
      oi += c * idx.strides[d];
      oo += c * out.strides[d];
      os += c * src.strides[d];
    }
    const int64_t* ip = idx.ptr<const int64_t>() + oi;
    T* op = out.ptr<T>() + oo;
    const T* sp = src.ptr<const T>() + os;
    for (int64_t j = 0; j < len; ++j) op[ip[j * si] * so] += sp[j * ss];
  }
}

template <class T> __device__ void atomic_add(T* p, T v) {
  if constexpr (std::is_same_v<T, int64_t>)
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));   // two's complement
  else
    atomicAdd(p, v);
}

// The opt-in fast path: one thread per element p of the index, atomically added.
template <class T>
__global__ void scatter_add_atomic_kernel(StridedView out, StridedView idx, StridedView src, int dim) {
  const int64_t total = idx.numel();
  for (int64_t p = thread_index(); p < total; p += thread_stride()) {
    int64_t rem = p, oi = 0, oo = 0, os = 0;
    for (int d = idx.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % idx.shape[d];
      rem /= idx.shape[d];
      oi += c * idx.strides[d];
      os += c * src.strides[d];
      if (d != dim) oo += c * out.strides[d];
    }
    const int64_t i = idx.ptr<const int64_t>()[oi];
    atomic_add(out.ptr<T>() + oo + i * out.strides[dim], src.ptr<const T>()[os]);
  }
}

__global__ void one_hot_kernel(const int64_t* idx, int64_t* out, int64_t n, int64_t classes) {
  for (int64_t r = thread_index(); r < n; r += thread_stride()) out[r * classes + idx[r]] = 1;
}

}  // namespace

void set_deterministic_scatter(bool on) { g_deterministic_scatter.store(on); }
bool deterministic_scatter() { return g_deterministic_scatter.load(); }

template <class T>
void index_select_rows(const T* x, const int64_t* idx, T* out, int64_t outer, int64_t n, int64_t inner, int64_t k) {
  const int64_t total = outer * k * inner;
  if (total == 0) return;
  cudaStream_t s = stream(device_of(out));
  index_select_rows_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(x, idx, out, outer, n, inner, k);
  CUDA_CHECK_LAUNCH("index_select_rows_kernel");
}

// Deterministic path: (idx[j], j) pairs sorted stably by idx give, for each destination row, its js
// in ascending order (order[start[row] .. start[row + 1])); then one thread per dx element sums them.
template <class T>
void index_add_rows(T* dx, const int64_t* idx, const T* dy, int64_t outer, int64_t n, int64_t inner, int64_t k,
                    int64_t skip) {
  if (outer * n * inner == 0 || k == 0) return;
  const int dev = device_of(dx);
  cudaStream_t s = stream(dev);
  if (!deterministic_scatter()) {
    index_add_rows_atomic_kernel<T><<<blocks_for(outer * k * inner), kThreads, 0, s>>>(dx, idx, dy, outer, n, inner,
                                                                                         k, skip);
    CUDA_CHECK_LAUNCH("index_add_rows_atomic_kernel");
    return;
  }
  // Indices are in [0, n), so as unsigned keys they sort the same and need only end_bit bits.
  int end_bit = 1;
  while (end_bit < 64 && (uint64_t(1) << end_bit) < uint64_t(n)) ++end_bit;
  const auto* keys_in = reinterpret_cast<const uint64_t*>(idx);
  DeviceBuffer<char> buf(sizeof(int64_t) * size_t(3 * k + n + 1), dev);
  auto* keys_out = buf.as<uint64_t>();
  int64_t* order_in = buf.as<int64_t>() + k;
  int64_t* order = order_in + k;
  int64_t* start = order + k;
  iota_kernel<<<blocks_for(k), kThreads, 0, s>>>(order_in, k);
  CUDA_CHECK_LAUNCH("iota_kernel");
  size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, order_in, order, k, 0, end_bit,
                                             s));
  {
    DeviceBuffer<char> temp(std::max<size_t>(temp_bytes, 1), dev);   // a null buffer would make cub only size it
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), temp_bytes, keys_in, keys_out, order_in, order, k, 0,
                                               end_bit, s));
  }
  segment_starts_kernel<<<blocks_for(n + 1), kThreads, 0, s>>>(keys_out, k, start, n);
  CUDA_CHECK_LAUNCH("segment_starts_kernel");
  index_add_rows_sorted_kernel<T><<<blocks_for(outer * n * inner), kThreads, 0, s>>>(dx, start, order, dy, outer, n,
                                                                                       inner, k, skip);
  CUDA_CHECK_LAUNCH("index_add_rows_sorted_kernel");
}

template <class T> void gather(StridedView out, StridedView x, StridedView idx, int dim) {
  const int64_t total = idx.numel();
  if (total == 0) return;
  cudaStream_t s = stream(device_of(out.data));
  gather_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(out, x, idx, dim);
  CUDA_CHECK_LAUNCH("gather_kernel");
}

template <class T> void scatter_add(StridedView out, StridedView idx, StridedView src, int dim) {
  const int64_t total = idx.numel();
  if (total == 0) return;
  cudaStream_t s = stream(device_of(out.data));
  if (!deterministic_scatter()) {
    scatter_add_atomic_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(out, idx, src, dim);
    CUDA_CHECK_LAUNCH("scatter_add_atomic_kernel");
    return;
  }
  scatter_add_kernel<T><<<blocks_for(total / idx.shape[dim]), kThreads, 0, s>>>(out, idx, src, dim);
  CUDA_CHECK_LAUNCH("scatter_add_kernel");
}

void one_hot(const int64_t* idx, int64_t* out, int64_t n, int64_t classes) {
  if (n == 0 || classes == 0) return;
  cudaStream_t s = stream(device_of(out));
  one_hot_kernel<<<blocks_for(n), kThreads, 0, s>>>(idx, out, n, classes);
  CUDA_CHECK_LAUNCH("one_hot_kernel");
}

// What autograd/functions/index.cpp instantiates: index_select_rows and gather for every dtype
// (visit_dtype), index_add_rows for the floating ones (a gradient), scatter_add for the numeric ones.
#define ATTO_INDEX_ALL_DTYPES(T)                                                                               \
  template void index_select_rows<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, int64_t);      \
  template void gather<T>(StridedView, StridedView, StridedView, int);
ATTO_INDEX_ALL_DTYPES(float)
ATTO_INDEX_ALL_DTYPES(double)
ATTO_INDEX_ALL_DTYPES(int64_t)
ATTO_INDEX_ALL_DTYPES(bool)
#undef ATTO_INDEX_ALL_DTYPES

template void index_add_rows<float>(float*, const int64_t*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t);
template void index_add_rows<double>(double*, const int64_t*, const double*, int64_t, int64_t, int64_t, int64_t,
                                     int64_t);
template void scatter_add<float>(StridedView, StridedView, StridedView, int);
template void scatter_add<double>(StridedView, StridedView, StridedView, int);
template void scatter_add<int64_t>(StridedView, StridedView, StridedView, int);

}  // namespace atto::cuda
