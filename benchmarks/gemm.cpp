// benchmarks/gemm.cpp -- float32 square matrix multiply, GFLOP/s (2 n^3 / time): attograd's matmul
// against OpenBLAS's cblas_sgemm called directly on the same buffers, with 1 and 2 threads.
// Twin: benchmarks/gemm_torch.py (torch.mm). Run both with benchmarks/run.sh.
//
//   gemm [--threads 1,2] [--sizes 128,512,1024,2048] [--config NAME]
//
// --config only labels the output (run.sh runs it with and without OMP_WAIT_POLICY=PASSIVE).
// The two are timed alternately (attograd, direct, attograd, ...) so that both see the same load
// on a shared machine; each reports the median of its repetitions. "direct" uses OpenBLAS's own
// threading; attograd never does (NOTE [ Deterministic OpenBLAS ] in tensor/cpu/gemm.cpp).
#include <random>

#include "attograd.h"
#include "bench_util.h"

#if ATTO_BENCH_HAS_OPENBLAS
#include <cblas.h>
#endif

using namespace atto;

namespace {

Tensor random_matrix(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(size_t(n * n));
  for (float& x : v) x = u(rng);
  return from_vector<float>(v, Shape{n, n});
}

const char* config = "default";

void report(const char* impl, int threads, int n, double seconds) {
  double gflops = 2.0 * double(n) * n * n / seconds / 1e9;
  std::printf("RESULT bench=gemm impl=%s config=%s threads=%d n=%d gflops=%.2f\n", impl, config, threads, n,
              gflops);
}

}  // namespace

int main(int argc, char** argv) {
  auto threads_list = bench::int_list_arg(argc, argv, "--threads", {1, 2});
  auto sizes = bench::int_list_arg(argc, argv, "--sizes", {128, 512, 1024, 2048});
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--config") == 0) config = argv[i + 1];
  for (int threads : threads_list) {
    set_num_threads(threads);
    for (int n : sizes) {
      Tensor a = random_matrix(n, 1), b = random_matrix(n, 2);
      Tensor direct_out = zeros({n, n});
      auto run_atto = [&] { return matmul(a, b); };
#if ATTO_BENCH_HAS_OPENBLAS
      auto run_direct = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data_ptr<float>(), n,
                    b.data_ptr<float>(), n, 0.0f, direct_out.data_ptr<float>(), n);
      };
#else
      auto run_direct = [] {};
#endif
      // Warm up (page faults, OpenBLAS's buffers), and check both compute the same product.
      Tensor c = run_atto();
      run_direct();
#if ATTO_BENCH_HAS_OPENBLAS
      {
        auto x = c.to_vector<float>(), y = direct_out.to_vector<float>();
        double worst = 0;
        for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
        if (worst > 1e-3) std::fprintf(stderr, "gemm n=%d: attograd and cblas differ by %g\n", n, worst);
      }
#endif
      double t0 = bench::now_s();
      run_atto();
      double one = bench::now_s() - t0;
      int reps = std::clamp(int(0.4 / std::max(one, 1e-6)), 5, 200);
      std::vector<double> t_atto, t_direct;
      for (int r = 0; r < reps; ++r) {
        double s = bench::now_s();
        Tensor out = run_atto();
        t_atto.push_back(bench::now_s() - s);
#if ATTO_BENCH_HAS_OPENBLAS
        s = bench::now_s();
        run_direct();
        t_direct.push_back(bench::now_s() - s);
#endif
      }
      report("attograd", threads, n, bench::median(t_atto));
      if (!t_direct.empty()) report("direct", threads, n, bench::median(t_direct));
    }
  }
#if !ATTO_BENCH_HAS_OPENBLAS
  std::printf("# built without OpenBLAS (ATTO_BLAS=none): no direct cblas_sgemm column\n");
#endif
  return 0;
}
