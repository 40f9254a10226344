// benchmarks/bench_device.h -- the device check the GPU benchmarks (gpu_ops, gpu_models) share.
#pragma once
#include <cstdio>
#include <optional>
#include <string>

#include "attograd.h"

namespace bench {

// For the GPU benchmarks: whether `dev` (parsed from --device `arg`) can be measured here. Empty when
// it can; otherwise the exit status, after saying why: 0 when this build or machine has no GPU
// (benchmarks are not tests: nothing measured is not an error), 1 for a device index that does not exist.
inline std::optional<int> unusable_device(const char* program, const std::string& arg, atto::Device dev) {
  if (!dev.is_cuda()) return {};
  if (!atto::built_with_cuda()) {
    std::printf("# %s: this build has no CUDA backend (configure with -DATTO_CUDA=ON): nothing measured\n", program);
    return 0;
  }
  if (!atto::cuda_is_available()) {
    std::printf("# %s: no CUDA device on this machine: nothing measured\n", program);
    return 0;
  }
  if (dev.index >= atto::cuda_device_count()) {
    std::fprintf(stderr, "%s: --device %s, but this machine has %d CUDA device(s)\n", program, arg.c_str(),
                 atto::cuda_device_count());
    return 1;
  }
  return {};
}

}  // namespace bench
