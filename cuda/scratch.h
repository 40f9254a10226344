// cuda/scratch.h -- DeviceBuffer: device memory for the temporaries of one kernel launcher (im2col
// columns, partial sums, cub's temp storage), handed back to the caching allocator when the launcher
// returns or throws. Handing it back while kernels that use it are still queued is safe: whoever gets
// the block next is queued behind them on the same stream (NOTE [ One stream per device ] in
// cuda/runtime.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/runtime.h"

namespace atto::cuda {

template <class T> class DeviceBuffer {
 public:
  DeviceBuffer(int64_t n, int device) : device_(device) {   // n elements; none for n <= 0
    if (n > 0) ptr_ = static_cast<T*>(device_alloc(size_t(n) * sizeof(T), device));
  }
  ~DeviceBuffer() {
    if (ptr_) device_free(ptr_, device_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return ptr_; }
  template <class U> U* as() const { return reinterpret_cast<U*>(ptr_); }   // raw bytes viewed as U

 private:
  T* ptr_ = nullptr;
  int device_;
};

}  // namespace atto::cuda
