// benchmarks/libtorch/overhead_libtorch.cpp -- libtorch (C++) twin of benchmarks/overhead.cpp: the
// same chain of 1,500 tiny ops on a 64-element float32 leaf, then backward; microseconds per op,
// median of the repetitions (wall-clock and thread CPU time). Built by benchmarks/run.sh with g++
// against Debian's libtorch-dev, outside the CMake build (which never needs libtorch).
//
//   overhead_libtorch THREADS CONFIG [REPS]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s THREADS CONFIG [REPS]\n", argv[0]);
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const char* config = argv[2];
  const int reps = argc > 3 ? std::atoi(argv[3]) : 50;
  constexpr int kOps = 1500;
  torch::set_num_threads(threads);
  torch::Tensor x0 = torch::full({64}, 0.5, torch::TensorOptions().dtype(torch::kFloat32).requires_grad(true));
  torch::Tensor seed = torch::ones({64});
  auto run = [&] {
    torch::Tensor x = x0;
    for (int i = 0; i < kOps / 3; ++i) {
      x = x * 1.0001 + 0.0001;
      x = torch::tanh(x);
    }
    x.backward(seed);
  };
  for (int i = 0; i < 5; ++i) run();
  auto thread_cpu_s = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    x0.mutable_grad() = torch::Tensor();
    auto s = std::chrono::steady_clock::now();
    double c = thread_cpu_s();
    run();
    cpu.push_back(thread_cpu_s() - c);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::printf("RESULT bench=overhead impl=libtorch config=%s us_per_op=%.3f cpu_us_per_op=%.3f\n", config,
              median(wall) / kOps * 1e6, median(cpu) / kOps * 1e6);
  return 0;
}
