// tests/cuda/against_cpu.h -- one op run on the CPU and on the GPU, forward and backward, compared
// (for the CUDA tests of the reduction, softmax and layer_norm kernels).
//
//   check_against_cpu(x, [](const Tensor& t) { return sum(t, {1}); }, float_tol(x.dtype()));
//
// The op gets the CPU tensor and a copy of it on the GPU (views such as transpose are taken inside
// the op, so the GPU kernels see the same non-contiguous layout). Outputs must agree in device,
// dtype, shape and values; then both outputs get backward with the same dy and the gradients of the
// inputs must agree.
#pragma once
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "cuda_test_util.h"

namespace atto::testing {

// How close the GPU result must be to the CPU's. {0, 0}: equal values, NaN equal to NaN.
struct Tol {
  double rtol = 0, atol = 0;
};
// The CPU tests' tolerances for an op computed in a different order.
inline Tol float_tol(DType dt) { return dt == kFloat64 ? Tol{1e-12, 1e-12} : Tol{1e-5, 1e-6}; }
inline constexpr Tol kExact{};

// The sizes of kAwkwardSizes and a row longer than four blocks of threads.
inline const std::vector<int64_t> kReduceSizes = {1, 37, 1025, 4097};

// Equal shape, dtype and values; NaN equals NaN. int64 compares as int64.
inline bool same_values(const Tensor& a_in, const Tensor& b_in) {
  Tensor a = a_in.cpu(), b = b_in.cpu();
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == kInt64) return a.to_vector<int64_t>() == b.to_vector<int64_t>();
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i)
    if (!(av[i] == bv[i] || (std::isnan(av[i]) && std::isnan(bv[i])))) return false;
  return true;
}

// Bitwise equal float32 or float64 tensors (for run-to-run determinism).
inline bool same_bits(const Tensor& a_in, const Tensor& b_in) {
  Tensor a = a_in.cpu(), b = b_in.cpu();
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == kFloat32) {
    std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
    return std::memcmp(av.data(), bv.data(), av.size() * sizeof(float)) == 0;
  }
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  return std::memcmp(av.data(), bv.data(), av.size() * sizeof(double)) == 0;
}

inline void check_close(const Tensor& gpu, const Tensor& cpu, Tol tol) {
  CHECK(gpu.device().is_cuda());
  CHECK(gpu.dtype() == cpu.dtype());
  CHECK(gpu.shape() == cpu.shape());
  if (tol.rtol == 0 && tol.atol == 0) CHECK(same_values(gpu, cpu));
  else CHECK_ALLCLOSE(gpu, cpu, tol.rtol, tol.atol);
}

// An input of check_against_cpu: a CPU tensor (undefined for "none") and whether its gradient is compared.
struct Input {
  Tensor x;
  bool grad = true;
};

inline void check_against_cpu(const std::vector<Input>& inputs,
                              const std::function<Tensor(const std::vector<Tensor>&)>& fn, Tol tol) {
  std::vector<Tensor> on_cpu, on_gpu;
  for (const Input& in : inputs) {
    Tensor c = in.x.defined() ? in.x.detach() : Tensor{};
    Tensor g = in.x.defined() ? in.x.to(kCUDA) : Tensor{};
    if (in.x.defined() && in.grad && in.x.is_floating_point()) {
      c.requires_grad_();
      g.requires_grad_();
    }
    on_cpu.push_back(c);
    on_gpu.push_back(g);
  }
  Tensor yc = fn(on_cpu), yg = fn(on_gpu);
  check_close(yg, yc, tol);
  if (!yc.requires_grad()) return;
  REQUIRE(yg.requires_grad());
  Tensor dy = uniform(yc.shape(), -1.0, 1.0, 7, yc.dtype());
  yc.backward(dy);
  yg.backward(dy.to(kCUDA));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!on_cpu[i].defined() || !on_cpu[i].requires_grad()) continue;
    CAPTURE(i);
    REQUIRE(on_cpu[i].grad().defined());
    REQUIRE(on_gpu[i].grad().defined());
    check_close(on_gpu[i].grad(), on_cpu[i].grad(), tol);
  }
}

inline void check_against_cpu(const Tensor& x, const std::function<Tensor(const Tensor&)>& fn, Tol tol) {
  check_against_cpu({Input{x}}, [&](const std::vector<Tensor>& in) { return fn(in[0]); }, tol);
}

}  // namespace atto::testing
