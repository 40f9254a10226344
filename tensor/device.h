// tensor/device.h -- where a tensor's storage lives: the CPU, or CUDA device N.
#pragma once
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

}  // namespace atto

template <> struct fmt::formatter<atto::Device> : fmt::formatter<std::string> {
  auto format(const atto::Device& d, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(d.str(), ctx);
  }
};
