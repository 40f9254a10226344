// cuda/random.h -- the CUDA random kernels (internal header); twin: tensor/cpu/random.h, same names
// and parameters. Plain C++ declarations; defined and instantiated in cuda/random.cu.
//
// Each evaluates the Philox blocks offset, offset + 1, ... of `seed` (tensor/philox.h) exactly as the
// CPU kernel does -- one GPU thread per block -- so for the same (seed, offset) uniform, randint and
// bernoulli draws are bitwise the CPU's, and normals differ only by log/cos/sin's last bits
// (NOTE [ Random stream layout ] in tensor/random.h). `out` is contiguous device memory of n elements.
#pragma once
#include <cstdint>

namespace atto::cuda {

// T: float, double.
template <class T> void random_uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi);
// T: float, double.
template <class T> void random_normal(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std);
// T: float, double, int64_t.
template <class T> void random_int(T* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range);
// T: float, double, int64_t, bool. The probabilities live where the call sites keep them:
//   p_step == 0: p is a HOST pointer to one probability (the address of a local double), read here
//                on the host and passed to the kernel by value;
//   p_step != 0: p points at DEVICE memory (out's device) holding n probabilities, p[i * p_step].
template <class T>
void random_bernoulli(T* out, int64_t n, uint64_t seed, uint64_t offset, const double* p, int64_t p_step, double value);

}  // namespace atto::cuda
