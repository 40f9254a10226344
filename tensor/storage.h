// tensor/storage.h -- a reference-counted block of bytes on one device. Tensors (handles) point at a
// Storage through a shared_ptr; views share it. CPU memory is 64-byte aligned (one cache line, and
// wide enough for AVX-512 loads), except buffers of at most kSmallBytes: those come from plain malloc
// (16-byte aligned), since an aligned allocation costs several times more and tiny tensors are
// the ones whose per-op overhead matters.
#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace atto {

class Storage {
 public:
  static constexpr size_t kSmallBytes = 1024;
  // pinned: page-locked host memory (CPU only, CUDA builds only), see Tensor::pin_memory().
  Storage(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
};

}  // namespace atto
