// cuda/optim.cu -- the fused optimizer steps on the GPU: the twin of optim/cpu_kernels.h
// (declarations in cuda/optim.h). The per-element math is optim/update_fns.h, shared with the CPU.
//
// NOTE [ Multi-tensor launch ]
// A model has many parameters, most of them small (biases, norms); one launch per parameter would
// cost more in launch overhead than in arithmetic. adam_step updates all parameters of a group in
// one launch: every parameter is cut into chunks of kChunk elements, and block b works on the chunk
// work[b] = {tensor, chunk}. The launcher builds the parameter table and the work list on the host
// and copies both to the device, in one buffer from the caching allocator (so a training loop
// reuses the same block every step and never reaches cudaMalloc again), ahead of the launch on the
// device's one stream; the buffer is freed right after the launch, which NOTE [ One stream per
// device ] (cuda/runtime.h) makes safe. Each element is updated by exactly one thread, so the
// result does not depend on the chunking.
#include <cstring>
#include <vector>

#include "cuda/launch.cuh"
#include "cuda/optim.h"
#include "cuda/runtime.h"

namespace atto::cuda {

namespace {

constexpr int64_t kChunk = 8192;   // elements per block: 32 per thread at kThreads = 256

struct ChunkWork {
  int64_t tensor;   // index into the table
  int64_t chunk;    // elements [chunk * kChunk, min((chunk + 1) * kChunk, numel))
};

template <class T>
__global__ void adam_step_kernel(const AdamTensorRef* tensors, const ChunkWork* work, AdamHyper hyper) {
  const ChunkWork w = work[blockIdx.x];
  const AdamTensorRef t = tensors[w.tensor];
  const int64_t begin = w.chunk * kChunk;
  const int64_t end = begin + kChunk < t.numel ? begin + kChunk : t.numel;
  const AdamUpdate<T> update(hyper);
  T* param = static_cast<T*>(t.param);
  const T* grad = static_cast<const T*>(t.grad);
  T* exp_avg = static_cast<T*>(t.exp_avg);
  T* exp_avg_sq = static_cast<T*>(t.exp_avg_sq);
  T* max_exp_avg_sq = static_cast<T*>(t.max_exp_avg_sq);
  const T neg_step_size = T(-t.step_size), bias_correction2_sqrt = T(t.bias_correction2_sqrt);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    T p = param[i], m = exp_avg[i], v = exp_avg_sq[i];
    T vmax = max_exp_avg_sq ? max_exp_avg_sq[i] : T(0);
    update(p, grad[i], m, v, vmax, neg_step_size, bias_correction2_sqrt);
    param[i] = p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if (max_exp_avg_sq) max_exp_avg_sq[i] = vmax;
  }
}

}  // namespace

template <class T> void adam_step(const AdamTensorRef* tensors, int64_t count, const AdamHyper& hyper) {
  std::vector<ChunkWork> work;
  for (int64_t k = 0; k < count; ++k)
    for (int64_t c = 0; c * kChunk < tensors[k].numel; ++c) work.push_back({k, c});
  if (work.empty()) return;   // no parameters, or only empty ones
  ATTO_CHECK(work.size() <= size_t(0x7fffffff), "[adam_step] {} chunks exceed the grid limit", work.size());

  // The table, then the work list (both 8-byte aligned), in one device buffer.
  const size_t table_bytes = size_t(count) * sizeof(AdamTensorRef);
  const size_t bytes = table_bytes + work.size() * sizeof(ChunkWork);
  std::vector<unsigned char> host(bytes);
  std::memcpy(host.data(), tensors, table_bytes);
  std::memcpy(host.data() + table_bytes, work.data(), work.size() * sizeof(ChunkWork));

  const int dev = device_of(tensors[work[0].tensor].param);   // a parameter with elements: never null
  cudaStream_t s = stream(dev);
  unsigned char* buffer = static_cast<unsigned char*>(device_alloc(bytes, dev));
  try {
    // From pageable memory: the driver stages the bytes before returning, so `host` may go at once.
    CUDA_CHECK(cudaMemcpyAsync(buffer, host.data(), bytes, cudaMemcpyHostToDevice, s));
    adam_step_kernel<T><<<unsigned(work.size()), kThreads, 0, s>>>(
        reinterpret_cast<const AdamTensorRef*>(buffer), reinterpret_cast<const ChunkWork*>(buffer + table_bytes),
        hyper);
    CUDA_CHECK_LAUNCH("adam_step_kernel");
  } catch (...) {
    device_free(buffer, dev);
    throw;
  }
  device_free(buffer, dev);
}

template void adam_step<float>(const AdamTensorRef*, int64_t, const AdamHyper&);
template void adam_step<double>(const AdamTensorRef*, int64_t, const AdamHyper&);

}  // namespace atto::cuda
