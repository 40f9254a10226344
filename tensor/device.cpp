// tensor/device.cpp -- device parsing and the questions "is there a GPU?" that work in every build.
#include "tensor/device.h"

#include "tensor/dispatch.h"

#if ATTO_HAS_CUDA
#include "cuda/runtime.h"
#endif

namespace atto {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return kCPU;
  if (s == "cuda") return kCUDA;
  if (s.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      int index = std::stoi(s.substr(5), &used);
      if (used == s.size() - 5 && index >= 0) return Device{DeviceKind::CUDA, index};
    } catch (const std::exception&) {
    }
  }
  throw Error(fmt::format("[device] cannot parse device '{}': expected cpu, cuda or cuda:N", s));
}

#if ATTO_HAS_CUDA
bool built_with_cuda() { return true; }
bool cuda_is_available() { return cuda::device_count() > 0; }
int cuda_device_count() { return cuda::device_count(); }
std::string cuda_device_name(int index) { return cuda::device_name(index); }
CudaMemoryStats cuda_memory_stats(int device) {
  cuda::MemoryStats m = cuda::memory_stats(device);
  return {m.allocated_bytes, m.reserved_bytes, m.peak_allocated_bytes, m.num_allocs, m.num_cuda_mallocs,
          m.num_cuda_frees};
}
void cuda_reset_peak_memory_stats(int device) { cuda::reset_peak_memory_stats(device); }
void cuda_empty_cache() { cuda::empty_cache(); }
void cuda_synchronize(int device) { cuda::synchronize(device); }
void cuda_set_allow_tf32(bool on) { cuda::set_allow_tf32(on); }
bool cuda_allow_tf32() { return cuda::allow_tf32(); }
#else
bool built_with_cuda() { return false; }
bool cuda_is_available() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_device_name(int) {
  throw Error("[cuda_device_name] this build has no CUDA backend (reconfigure with -DATTO_CUDA=ON)");
}
CudaMemoryStats cuda_memory_stats(int) { detail::throw_no_cuda("cuda_memory_stats"); }
void cuda_reset_peak_memory_stats(int) { detail::throw_no_cuda("cuda_reset_peak_memory_stats"); }
void cuda_empty_cache() {}   // nothing cached without a CUDA backend
void cuda_synchronize(int) { detail::throw_no_cuda("cuda_synchronize"); }
void cuda_set_allow_tf32(bool) {}
bool cuda_allow_tf32() { return false; }
#endif

namespace detail {
void throw_no_cuda(const char* what) {
  throw Error(fmt::format("[{}] this build has no CUDA backend (reconfigure with -DATTO_CUDA=ON)", what));
}
}  // namespace detail

}  // namespace atto
