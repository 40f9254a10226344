// cuda/allocator.cpp -- the caching allocator: device memory is taken from cudaMalloc once and then
// reused, because cudaMalloc/cudaFree synchronise the device and cost tens of microseconds each; a
// training step that allocated fresh activations every time would spend more in the driver than in
// its kernels.
//
//   request n bytes  ->  size class c(n)  ->  a cached free block of exactly c?  reuse it
//                                          ->  else cudaMalloc(c) (on out-of-memory: return the
//                                              cache to the driver and try once more)
//   free             ->  the block goes back to the free list of its class (never to the driver,
//                        until empty_cache())
//
// Size classes: multiples of 512 bytes up to 1 MiB, then 8 steps per power of two (at most 12.5%
// rounding). Exact-class reuse is simple and enough for training, whose steps request the same sizes
// every time: after the first step every request is a cache hit (tests/cuda/test_runtime.cpp checks
// this over 1,000 steps). Reuse is safe without events because each device has one stream (NOTE
// [ One stream per device ] in cuda/runtime.h).
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/check.h"
#include "cuda/runtime.h"

namespace atto::cuda {

namespace {

size_t size_class(size_t n) {
  constexpr size_t kSmallStep = 512, kSmallLimit = size_t(1) << 20;
  if (n <= kSmallLimit) return std::max<size_t>(kSmallStep, (n + kSmallStep - 1) / kSmallStep * kSmallStep);
  size_t pow2 = kSmallLimit;
  while (pow2 * 2 < n) pow2 *= 2;                       // pow2 < n <= 2 pow2
  size_t step = pow2 / 8;
  return (n + step - 1) / step * step;
}

struct DeviceCache {
  std::map<size_t, std::vector<void*>> free_blocks;     // size class -> unused blocks
  std::unordered_map<void*, size_t> live;               // handed-out block -> its size class
  MemoryStats stats;
};

class CachingAllocator {
 public:
  void* allocate(size_t nbytes, int device) {
    check_device(device);
    std::lock_guard lock(mu_);
    DeviceCache& dc = cache(device);
    size_t c = size_class(nbytes);
    void* p = nullptr;
    auto it = dc.free_blocks.find(c);
    if (it != dc.free_blocks.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    } else {
      CUDA_CHECK(cudaSetDevice(device));
      cudaError_t err = cudaMalloc(&p, c);
      if (err == cudaErrorMemoryAllocation) {   // give the cache back to the driver, then retry once
        cudaGetLastError();
        release_cached(device, dc);
        err = cudaMalloc(&p, c);
      }
      if (err != cudaSuccess) {
        cudaGetLastError();
        throw Error(fmt::format("[cuda] out of memory allocating {} bytes on cuda:{} ({} bytes allocated, {} reserved): {}",
                                nbytes, device, dc.stats.allocated_bytes, dc.stats.reserved_bytes,
                                cudaGetErrorString(err)));
      }
      ++dc.stats.num_cuda_mallocs;
      dc.stats.reserved_bytes += int64_t(c);
    }
    dc.live[p] = c;
    ++dc.stats.num_allocs;
    dc.stats.allocated_bytes += int64_t(c);
    dc.stats.peak_allocated_bytes = std::max(dc.stats.peak_allocated_bytes, dc.stats.allocated_bytes);
    return p;
  }

  void deallocate(void* p, int device) {
    if (!p) return;
    std::lock_guard lock(mu_);
    DeviceCache& dc = cache(device);
    auto it = dc.live.find(p);
    ATTO_ASSERT(it != dc.live.end(), "[cuda] freeing a pointer the allocator did not hand out");
    dc.free_blocks[it->second].push_back(p);
    dc.stats.allocated_bytes -= int64_t(it->second);
    dc.live.erase(it);
  }

  MemoryStats stats(int device) {
    check_device(device);
    std::lock_guard lock(mu_);
    return cache(device).stats;
  }

  void reset_peak(int device) {
    check_device(device);
    std::lock_guard lock(mu_);
    DeviceCache& dc = cache(device);
    dc.stats.peak_allocated_bytes = dc.stats.allocated_bytes;
  }

  void empty_cache() {
    std::lock_guard lock(mu_);
    for (auto& [device, dc] : caches_) release_cached(device, dc);
  }

 private:
  DeviceCache& cache(int device) { return caches_[device]; }

  // Returns the unused blocks of one device to the driver (cudaFree waits for the device first).
  void release_cached(int device, DeviceCache& dc) {
    CUDA_CHECK(cudaSetDevice(device));
    for (auto& [c, blocks] : dc.free_blocks) {
      for (void* p : blocks) {
        CUDA_CHECK(cudaFree(p));
        ++dc.stats.num_cuda_frees;
        dc.stats.reserved_bytes -= int64_t(c);
      }
    }
    dc.free_blocks.clear();
  }

  std::mutex mu_;
  std::map<int, DeviceCache> caches_;
};

// Never destroyed: tensors held in static storage may be freed after main() returns.
CachingAllocator& allocator() {
  static auto* a = new CachingAllocator;
  return *a;
}

}  // namespace

void* device_alloc(size_t nbytes, int device) { return allocator().allocate(nbytes, device); }
void device_free(void* ptr, int device) { allocator().deallocate(ptr, device); }
MemoryStats memory_stats(int device) { return allocator().stats(device); }
void reset_peak_memory_stats(int device) { allocator().reset_peak(device); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace atto::cuda
