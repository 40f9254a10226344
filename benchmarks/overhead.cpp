// benchmarks/overhead.cpp -- per-op overhead on tiny tensors: a 64-element float32 leaf with
// requires_grad, a chain of 1,500 ops alternating x = x * 1.0001 + 0.0001 and tanh (each mul, add
// and tanh counts as one op), then backward. Reports microseconds per op = (forward + backward
// time) / 1500, the median of the repetitions, in wall-clock time and in this thread's CPU time
// (the second is what survives a busy shared machine). Twins: benchmarks/overhead_torch.py (PyTorch from
// Python) and benchmarks/libtorch/overhead_libtorch.cpp (libtorch C++). Run with benchmarks/run.sh.
//
//   overhead [--reps 50]
#include "attograd.h"
#include "bench_util.h"

using namespace atto;

int main(int argc, char** argv) {
  const int reps = bench::int_list_arg(argc, argv, "--reps", {50})[0];
  constexpr int kOps = 1500;
  Tensor x0 = full({64}, 0.5, {.requires_grad = true});
  Tensor seed = ones({64});
  auto run = [&] {
    Tensor x = x0;
    for (int i = 0; i < kOps / 3; ++i) {
      x = x * 1.0001 + 0.0001;
      x = x.tanh();
    }
    x.backward(seed);
  };
  for (int i = 0; i < 5; ++i) run();   // warm up the allocator
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    x0.set_grad({});
    double s = bench::now_s(), c = bench::thread_cpu_s();
    run();
    cpu.push_back(bench::thread_cpu_s() - c);
    wall.push_back(bench::now_s() - s);
  }
  std::printf("RESULT bench=overhead impl=attograd us_per_op=%.3f cpu_us_per_op=%.3f\n",
              bench::median(wall) / kOps * 1e6, bench::median(cpu) / kOps * 1e6);
  return 0;
}
