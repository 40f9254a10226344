// tensor/device.h -- where a tensor's storage lives: the CPU, or CUDA device N.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/check.h"

namespace atto {

enum class DeviceKind : uint8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  constexpr bool is_cpu() const { return kind == DeviceKind::CPU; }
  constexpr bool is_cuda() const { return kind == DeviceKind::CUDA; }
  constexpr bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }

  // Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);
};

inline constexpr Device kCPU{DeviceKind::CPU, 0};
inline constexpr Device kCUDA{DeviceKind::CUDA, 0};

// False in a build without the CUDA backend, and on a machine with no GPU: tests and examples ask
// this instead of carrying #ifdefs.
bool cuda_is_available();
int cuda_device_count();
std::string cuda_device_name(int index = 0);
bool built_with_cuda();

// The CUDA caching allocator's counters for one device (torch.cuda.memory_stats); see
// cuda/allocator.cpp. In a build without CUDA, or for a device that does not exist, these throw.
struct CudaMemoryStats {
  int64_t allocated_bytes = 0;        // held by live tensors (rounded to the allocator's size classes)
  int64_t reserved_bytes = 0;         // obtained from the driver, live or cached
  int64_t peak_allocated_bytes = 0;   // since the start or the last reset
  int64_t num_allocs = 0;             // allocations asked of the allocator
  int64_t num_cuda_mallocs = 0;       // of those, how many reached cudaMalloc
  int64_t num_cuda_frees = 0;
};
CudaMemoryStats cuda_memory_stats(int device = 0);
void cuda_reset_peak_memory_stats(int device = 0);
void cuda_empty_cache();                 // returns cached, unused device memory to the driver
void cuda_synchronize(int device = 0);   // waits for the device's queued work
// TF32 tensor cores for float32 matmul on CUDA (torch.backends.cuda.matmul.allow_tf32): off by
// default, so GPU results compare with the CPU's at float32 tolerances.
void cuda_set_allow_tf32(bool on);
bool cuda_allow_tf32();

}  // namespace atto

template <> struct fmt::formatter<atto::Device> : fmt::formatter<std::string> {
  auto format(const atto::Device& d, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(d.str(), ctx);
  }
};
