// tensor/storage.cpp -- allocation per device. CUDA memory comes from the CUDA backend's allocator;
// in a build without it, asking for CUDA memory is one clear error.
#include "tensor/storage.h"

#include <cstdlib>

#include "tensor/dispatch.h"

namespace atto {

Storage::Storage(size_t nbytes, Device device, bool pinned) : nbytes_(nbytes), device_(device), pinned_(pinned) {
  ATTO_CHECK(!pinned || device.is_cpu(), "[storage] only cpu memory can be pinned, not {}", device);
  if (pinned) {
    data_ = ATTO_CUDA_ONLY(pinned_alloc, nbytes);
  } else if (device.is_cpu()) {
    // glibc's aligned_alloc (memalign) costs several times malloc and fragments the heap; buffers
    // that fit a few cache lines take malloc's 16-byte alignment, which is all SSE needs.
    if (nbytes <= kSmallBytes) {
      data_ = std::malloc(std::max<size_t>(nbytes, 1));
    } else {
      size_t rounded = (nbytes + 63) / 64 * 64;   // aligned_alloc wants a multiple of the alignment
      data_ = std::aligned_alloc(64, rounded);
    }
    ATTO_CHECK(data_ != nullptr, "[storage] out of memory allocating {} bytes on the cpu", nbytes);
  } else {
    data_ = ATTO_CUDA_ONLY(device_alloc, nbytes, device.index);
  }
}

Storage::~Storage() {
  if (pinned_) {
    try { ATTO_CUDA_ONLY(pinned_free, data_); } catch (...) {}
  } else if (device_.is_cpu()) {
    std::free(data_);
  } else {
    try { ATTO_CUDA_ONLY(device_free, data_, device_.index); } catch (...) {}   // destructors must not throw
  }
}

}  // namespace atto
