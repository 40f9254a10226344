// cuda/scratch.h -- Scratch: device memory for the temporaries of one kernel launcher (cub's temp
// storage, partial sums), handed back to the caching allocator when the launcher returns or throws.
// Handing it back right after the launches that use it is safe: whatever reuses the block is queued
// behind them on the same stream (NOTE [ One stream per device ] in cuda/runtime.h).
#pragma once
#include <cstddef>

#include "cuda/runtime.h"

namespace atto::cuda {

class Scratch {
 public:
  Scratch(size_t nbytes, int device) : device_(device), ptr_(nbytes ? device_alloc(nbytes, device) : nullptr) {}
  ~Scratch() {
    if (ptr_) device_free(ptr_, device_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T> T* as() const { return static_cast<T*>(ptr_); }

 private:
  int device_;
  void* ptr_;
};

}  // namespace atto::cuda
