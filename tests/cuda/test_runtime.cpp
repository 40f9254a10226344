// tests/cuda/test_runtime.cpp -- devices, copies, pinned memory and the caching allocator
// (cuda/runtime.cpp, cuda/allocator.cpp). The first cases run in every build.
#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

TEST_CASE("cuda availability agrees with the device count, in every build") {
  CHECK(cuda_is_available() == (cuda_device_count() > 0));
  if (!built_with_cuda()) {
    CHECK_THROWS_WITH_AS(ones({2}).to(kCUDA), doctest::Contains("no CUDA backend"), Error);
    CHECK_THROWS_WITH_AS(ones({2}).pin_memory(), doctest::Contains("no CUDA backend"), Error);
  }
  CHECK_THROWS_WITH_AS(Device::parse("gpu"), doctest::Contains("cannot parse device 'gpu'"), Error);
  CHECK(Device::parse("cuda:1") == Device{DeviceKind::CUDA, 1});
}

TEST_SUITE("cuda") {

TEST_CASE("cuda: a tensor goes to the GPU and comes back unchanged, every dtype") {
  ATTO_REQUIRE_CUDA();
  MESSAGE("device: ", cuda_device_name(0));
  for (int64_t n : kAwkwardSizes) {
    Tensor f = arange(0.0, double(n) / 2, 0.5);
    Tensor d = f.to(kFloat64), i = arange(double(n), {.dtype = kInt64});
    for (const Tensor& t : {f, d, i}) {
      Tensor g = t.to(kCUDA);
      CHECK(g.device() == kCUDA);
      CHECK(g.dtype() == t.dtype());
      CHECK(g.cpu().to_vector<double>() == t.to_vector<double>());
    }
  }
  // A non-contiguous view travels as its values in C order.
  Tensor m = arange(12.0).reshape({3, 4}).t();
  CHECK(m.to(kCUDA).cpu().to_vector<double>() == m.to_vector<double>());
}

TEST_CASE("cuda: pinned memory and non-blocking copies") {
  ATTO_REQUIRE_CUDA();
  Tensor x = arange(1025.0);
  Tensor p = x.pin_memory();
  CHECK(p.is_pinned());
  CHECK_FALSE(x.is_pinned());
  CHECK(p.pin_memory().is_same(p));
  Tensor g = p.to(kCUDA, /*non_blocking=*/true);
  Tensor back = g.to(kCPU, /*non_blocking=*/true);
  CHECK(back.is_pinned());
  cuda_synchronize();
  CHECK(back.to_vector<double>() == x.to_vector<double>());
  CHECK_THROWS_WITH_AS(g.pin_memory(), doctest::Contains("only cpu tensors can be pinned"), Error);
}

TEST_CASE("cuda: freed blocks are reused without calling cudaMalloc again") {
  ATTO_REQUIRE_CUDA();
  Tensor host = ones({1000});
  { Tensor warm = host.to(kCUDA); }   // one block of this size class now sits in the cache
  CudaMemoryStats before = cuda_memory_stats();
  for (int i = 0; i < 100; ++i) {
    Tensor g = host.to(kCUDA);
    CHECK(g.device().is_cuda());
  }
  CudaMemoryStats after = cuda_memory_stats();
  CHECK(after.num_allocs - before.num_allocs == 100);
  CHECK(after.num_cuda_mallocs == before.num_cuda_mallocs);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.peak_allocated_bytes >= 4000);
  cuda_empty_cache();
  CudaMemoryStats emptied = cuda_memory_stats();
  CHECK(emptied.reserved_bytes == emptied.allocated_bytes);
  CHECK(emptied.num_cuda_frees > after.num_cuda_frees);
}

TEST_CASE("cuda: a device that does not exist is named in the error") {
  ATTO_REQUIRE_CUDA();
  Device missing{DeviceKind::CUDA, cuda_device_count()};
  const std::string expected = fmt::format("cuda:{} does not exist", missing.index);
  CHECK_THROWS_WITH_AS(ones({2}).to(missing), doctest::Contains(expected.c_str()), Error);
}

}  // TEST_SUITE("cuda")
