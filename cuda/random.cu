// cuda/random.cu -- the CUDA random kernels; twin: tensor/cpu/random.h (layout: NOTE [ Random stream
// layout ] in tensor/random.h).
//
// One thread per Philox block: thread b evaluates philox_block(seed, offset + b) and writes values
// [b * per_block, b * per_block + per_block) of the draw (fewer in the last block), as the CPU's
// philox_blocks does. Grid-stride loop, 64-bit indices.
//
// Bitwise agreement with the CPU: the Philox words and their conversion to [0, 1) are the shared
// ATTO_HD code of tensor/philox.h (integer and exact float arithmetic). The affine maps after it
// (lo + span * u, mean + std * r * cos) use __dmul_rn / __dadd_rn: nvcc would otherwise contract
// them into fused multiply-adds, which round once where the CPU (x86-64, no FMA) rounds twice.
#include "cuda/random.h"

#include "cuda/launch.cuh"
#include "tensor/philox.h"

namespace atto::cuda {

namespace {

// Runs emit(block_words, out + first, first, count) for every Philox block of a draw of n values.
template <int PerBlock, class T, class Emit>
__global__ void philox_blocks_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, Emit emit) {
  const int64_t blocks = (n + PerBlock - 1) / PerBlock;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x) {
    const Philox4x32 r = philox_block(seed, offset + uint64_t(b));
    const int64_t first = b * PerBlock;
    const int cnt = int(n - first < PerBlock ? n - first : PerBlock);
    emit(r, out + first, first, cnt);
  }
}

template <int PerBlock, class T, class Emit>
void launch_philox_blocks(const char* name, T* out, int64_t n, uint64_t seed, uint64_t offset, const Emit& emit) {
  if (n <= 0) return;
  const int dev = device_of(out);
  cudaStream_t s = stream(dev);
  const int64_t blocks = (n + PerBlock - 1) / PerBlock;
  philox_blocks_kernel<PerBlock><<<blocks_for(blocks), kThreads, 0, s>>>(out, n, seed, offset, emit);
  CUDA_CHECK_LAUNCH(name);
}

// float32: one word a value, 4 a block.
struct UniformFloat {
  double lo, span;
  __device__ void operator()(const Philox4x32& r, float* o, int64_t, int cnt) const {
    for (int k = 0; k < cnt; ++k) o[k] = float(__dadd_rn(lo, __dmul_rn(span, double(uniform_float(r.v[k])))));
  }
};

// float64: two words a value, 2 a block.
struct UniformDouble {
  double lo, span;
  __device__ void operator()(const Philox4x32& r, double* o, int64_t, int cnt) const {
    for (int k = 0; k < cnt; ++k)
      o[k] = __dadd_rn(lo, __dmul_rn(span, uniform_double(philox_u64(r.v[2 * k], r.v[2 * k + 1]))));
  }
};

// Box-Muller on one block, in double for both dtypes: r cos(2 pi U2), then r sin(2 pi U2).
template <class T> struct Normal {
  double mean, stddev;
  __device__ void operator()(const Philox4x32& r, T* o, int64_t, int cnt) const {
    const double u1 = 1.0 - uniform_double(philox_u64(r.v[0], r.v[1]));   // (0, 1]: log never sees 0
    const double u2 = uniform_double(philox_u64(r.v[2], r.v[3]));
    const double radius = ::sqrt(__dmul_rn(-2.0, ::log(u1)));
    const double theta = __dmul_rn(6.283185307179586476925, u2);   // 2 pi
    const double scaled = __dmul_rn(stddev, radius);
    o[0] = T(__dadd_rn(mean, __dmul_rn(scaled, ::cos(theta))));
    if (cnt > 1) o[1] = T(__dadd_rn(mean, __dmul_rn(scaled, ::sin(theta))));
  }
};

// low + (64 random bits mod range): integer arithmetic, then converted to T.
template <class T> struct Int {
  int64_t low;
  uint64_t range;
  __device__ void operator()(const Philox4x32& r, T* o, int64_t, int cnt) const {
    for (int k = 0; k < cnt; ++k)
      o[k] = T(int64_t(uint64_t(low) + philox_u64(r.v[2 * k], r.v[2 * k + 1]) % range));
  }
};

// U < p ? value : 0, U 53-bit uniform; p[i * p_step] from device memory, or one p_value (p null).
template <class T> struct Bernoulli {
  const double* p;
  int64_t p_step;
  double p_value, value;
  __device__ void operator()(const Philox4x32& r, T* o, int64_t first, int cnt) const {
    for (int k = 0; k < cnt; ++k) {
      const double u = uniform_double(philox_u64(r.v[2 * k], r.v[2 * k + 1]));
      const double pk = p ? p[(first + k) * p_step] : p_value;
      o[k] = u < pk ? T(value) : T(0);
    }
  }
};

}  // namespace

template <class T> void random_uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  const double span = hi - lo;
  if constexpr (sizeof(T) == 4)
    launch_philox_blocks<4>("random_uniform", out, n, seed, offset, UniformFloat{lo, span});
  else
    launch_philox_blocks<2>("random_uniform", out, n, seed, offset, UniformDouble{lo, span});
}

template <class T> void random_normal(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  launch_philox_blocks<2>("random_normal", out, n, seed, offset, Normal<T>{mean, std});
}

template <class T> void random_int(T* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range) {
  launch_philox_blocks<2>("random_int", out, n, seed, offset, Int<T>{low, range});
}

template <class T>
void random_bernoulli(T* out, int64_t n, uint64_t seed, uint64_t offset, const double* p, int64_t p_step,
                      double value) {
  // p_step == 0: p is the host address of one probability (see cuda/random.h); read it here.
  Bernoulli<T> emit = p_step == 0 ? Bernoulli<T>{nullptr, 0, *p, value} : Bernoulli<T>{p, p_step, 0.0, value};
  launch_philox_blocks<2>("random_bernoulli", out, n, seed, offset, emit);
}

template void random_uniform<float>(float*, int64_t, uint64_t, uint64_t, double, double);
template void random_uniform<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void random_normal<float>(float*, int64_t, uint64_t, uint64_t, double, double);
template void random_normal<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void random_int<float>(float*, int64_t, uint64_t, uint64_t, int64_t, uint64_t);
template void random_int<double>(double*, int64_t, uint64_t, uint64_t, int64_t, uint64_t);
template void random_int<int64_t>(int64_t*, int64_t, uint64_t, uint64_t, int64_t, uint64_t);
template void random_bernoulli<float>(float*, int64_t, uint64_t, uint64_t, const double*, int64_t, double);
template void random_bernoulli<double>(double*, int64_t, uint64_t, uint64_t, const double*, int64_t, double);
template void random_bernoulli<int64_t>(int64_t*, int64_t, uint64_t, uint64_t, const double*, int64_t, double);
template void random_bernoulli<bool>(bool*, int64_t, uint64_t, uint64_t, const double*, int64_t, double);

}  // namespace atto::cuda
