// benchmarks/gpu_ops.cpp -- attograd's CUDA kernels one at a time, against the same calls in PyTorch
// (twin: benchmarks/gpu_ops_torch.py, run on the same GPU by scripts/gpu-check.sh; the ratio tables
// come from benchmarks/report.py). float32 throughout, TF32 off in both programs.
//
//   copy   x.clone() of a 256 MiB tensor: the device-to-device copy bandwidth, 2 x 256 MiB / time.
//          It is the bandwidth floor that the row ops are measured against.
//   mm     matmul (n, n) @ (n, n), n in --sizes (1024, 2048, 4096, 8192): GFLOP/s = 2 n^3 / time
//   bmm    bmm (16, n/4, n/4) @ (16, n/4, n/4): the same n column, 16 independent products a quarter
//          of the size (the shape of attention heads); GFLOP/s = 16 x 2 (n/4)^3 / time
//   softmax, layer_norm, cross_entropy on x (--rows 8192, --cols 4096), along the last dim:
//          pass=fwd   forward only (no autograd graph)
//          pass=fwdbwd forward + backward (x, and layer_norm's weight and bias, require grad;
//                     .grad is cleared before each backward, so it is assigned, not accumulated)
//          reported as bandwidth = bytes / time, where bytes is the least traffic the op needs,
//          in units of N = rows x cols x 4 bytes:
//            softmax        fwd 2N (read x, write y)   fwdbwd 5N (+ read y, dy, write dx)
//            layer_norm     fwd 2N (read x, write y)   fwdbwd 5N (+ read x, dy, write dx)
//            cross_entropy  fwd 1N (read x)            fwdbwd 3N (+ read x, write dx)
//          (the (cols) weights, (rows) targets and per-row statistics, under 0.1%, are left out).
//          report.py divides by the copy bandwidth: the "fraction of the bandwidth floor".
//
// Timing: a few warm-up calls, then 15 samples; a sample is `reps` back-to-back calls between two
// cuda_synchronize() (reps chosen so that a sample takes about 25 ms, so launch and synchronisation
// latency does not count); the median time per call is reported. Each result is first checked
// against the CPU (the whole tensor for the row ops, the first 64 rows for the products):
// check=ok, or check=FAILED with the error on a "#" line, and the program then exits 1.
//
//   gpu_ops [--device cuda|cuda:N] [--sizes 1024,2048,4096,8192] [--rows 8192] [--cols 4096]
//           [--only copy,mm,bmm,rows]
//
// Without a CUDA device (or in a build without CUDA) it prints one "#" line saying so and exits 0.
// --device cpu runs the same code on the CPU (device=cpu in the lines): a check of this program on a
// machine without a GPU, with small --sizes/--rows/--cols; those numbers are not GPU numbers.
#include <cmath>
#include <functional>

#include "attograd.h"
#include "bench_device.h"
#include "bench_util.h"

using namespace atto;

namespace {

Device dev = kCUDA;
std::string device_label;   // the GPU's name, spaces replaced (values of a RESULT line have none)
bool all_ok = true;

void sync() {
  if (dev.is_cuda()) cuda_synchronize(dev.index);
}

// Median seconds per call of `op` (see the timing note at the top).
double time_op(const std::function<void()>& op) {
  for (int i = 0; i < 3; ++i) op();
  sync();
  double t0 = bench::now_s();
  op();
  sync();
  const double one = bench::now_s() - t0;
  const int reps = std::clamp(int(0.025 / std::max(one, 1e-7)), 1, 1000);
  std::vector<double> per_call;
  for (int s = 0; s < 15; ++s) {
    sync();
    t0 = bench::now_s();
    for (int r = 0; r < reps; ++r) op();
    sync();
    per_call.push_back((bench::now_s() - t0) / reps);
  }
  return bench::median(per_call);
}

// max |gpu - cpu| / max |cpu| <= tol, else a "#" line and check=FAILED.
const char* check(const Tensor& gpu, const Tensor& cpu, double tol, const std::string& what) {
  std::vector<float> a = gpu.cpu().contiguous().to_vector<float>(), b = cpu.contiguous().to_vector<float>();
  if (a.size() != b.size()) {
    std::printf("# CHECK FAILED %s: %zu elements on the GPU, %zu on the CPU\n", what.c_str(), a.size(), b.size());
    all_ok = false;
    return "FAILED";
  }
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    // std::max drops a NaN difference, so a NaN on the GPU is counted as an infinite error.
    worst = std::isnan(a[i]) ? INFINITY : std::max(worst, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  if (worst <= tol * std::max(scale, 1e-30)) return "ok";
  std::printf("# CHECK FAILED %s: max |gpu - cpu| = %g, max |cpu| = %g (tolerance %g relative)\n", what.c_str(), worst,
              scale, tol);
  all_ok = false;
  return "FAILED";
}

// ---- copy: the bandwidth floor ------------------------------------------------------------------------
void bench_copy() {
  const int64_t numel = int64_t(1) << 26;   // 256 MiB of float32
  Tensor x = randn({numel}).to(dev);
  Tensor y = x.clone();
  const char* ok = check(y, x.cpu(), 0.0, "copy");
  const double s = time_op([&] { x.clone(); });
  const double bytes = 2.0 * double(numel) * 4;
  std::printf("RESULT bench=gpu_copy impl=attograd device=%s bytes=%.0f ms=%.4f gbps=%.1f check=%s\n",
              device_label.c_str(), bytes, s * 1e3, bytes / s / 1e9, ok);
}

// ---- mm and bmm ---------------------------------------------------------------------------------------
void bench_mm(int n) {
  Tensor a_cpu = randn({n, n}), b_cpu = randn({n, n});
  Tensor a = a_cpu.to(dev), b = b_cpu.to(dev);
  const char* ok = check(matmul(a, b).narrow(0, 0, std::min(n, 64)), matmul(a_cpu.narrow(0, 0, std::min(n, 64)), b_cpu),
                         1e-4, fmt::format("mm n={}", n));
  const double s = time_op([&] { matmul(a, b); });
  std::printf(
      "RESULT bench=gpu_gemm impl=attograd device=%s op=mm n=%d batch=1 m=%d ms=%.4f gflops=%.1f tf32=%d "
      "check=%s\n",
      device_label.c_str(), n, n, s * 1e3, 2.0 * double(n) * n * n / s / 1e9, int(dev.is_cuda() && cuda_allow_tf32()),
      ok);
}

void bench_bmm(int n) {
  const int64_t batch = 16, m = n / 4;
  Tensor a_cpu = randn({batch, m, m}), b_cpu = randn({batch, m, m});
  Tensor a = a_cpu.to(dev), b = b_cpu.to(dev);
  const int64_t rows = std::min<int64_t>(m, 64);
  const char* ok = check(bmm(a, b).select(0, batch - 1).narrow(0, 0, rows),
                         matmul(a_cpu.select(0, batch - 1).narrow(0, 0, rows), b_cpu.select(0, batch - 1)), 1e-4,
                         fmt::format("bmm n={}", n));
  const double s = time_op([&] { bmm(a, b); });
  std::printf(
      "RESULT bench=gpu_gemm impl=attograd device=%s op=bmm n=%d batch=%lld m=%lld ms=%.4f gflops=%.1f "
      "tf32=%d check=%s\n",
      device_label.c_str(), n, (long long)batch, (long long)m, s * 1e3,
      2.0 * double(batch) * double(m) * double(m) * double(m) / s / 1e9, int(dev.is_cuda() && cuda_allow_tf32()), ok);
}

// ---- row ops: softmax, layer_norm, cross_entropy --------------------------------------------------------
void report_row(const char* op, const char* pass, int64_t rows, int64_t cols, double units, double s, const char* ok) {
  const double bytes = units * double(rows) * double(cols) * 4;
  std::printf(
      "RESULT bench=gpu_rows impl=attograd device=%s op=%s pass=%s rows=%lld cols=%lld bytes=%.0f ms=%.4f "
      "gbps=%.1f check=%s\n",
      device_label.c_str(), op, pass, (long long)rows, (long long)cols, bytes, s * 1e3, bytes / s / 1e9, ok);
}

// Times forward alone (no graph) and forward + backward of `f` on `leaves` (GPU tensors that require
// grad). `leaves_cpu` hold the same values on the CPU: `f` runs on them once, for the checks. `dy`
// (and dy_cpu): the gradient that flows in, undefined for a scalar loss.
void bench_row_op(const char* op, int64_t rows, int64_t cols, double fwd_units, double fwdbwd_units,
                  const std::vector<Tensor>& leaves, const std::vector<Tensor>& leaves_cpu, const Tensor& dy,
                  const Tensor& dy_cpu, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  // Checks: the output, and the gradient of the first leaf (x).
  for (const Tensor& t : leaves) t.set_grad({});
  for (const Tensor& t : leaves_cpu) t.set_grad({});
  Tensor y = f(leaves);
  y.backward(dy);
  Tensor y_cpu = f(leaves_cpu);
  y_cpu.backward(dy_cpu);
  const char* ok_fwd = check(y.detach(), y_cpu.detach(), 1e-4, fmt::format("{} forward", op));
  const char* ok_bwd = check(leaves[0].grad(), leaves_cpu[0].grad(), 1e-4, fmt::format("{} backward", op));
  const bool both = std::strcmp(ok_fwd, "ok") == 0 && std::strcmp(ok_bwd, "ok") == 0;

  double s = time_op([&] {
    NoGradGuard no_grad;
    f(leaves);
  });
  report_row(op, "fwd", rows, cols, fwd_units, s, ok_fwd);
  s = time_op([&] {
    for (const Tensor& t : leaves) t.set_grad({});
    f(leaves).backward(dy);
  });
  report_row(op, "fwdbwd", rows, cols, fwdbwd_units, s, both ? "ok" : "FAILED");
}

// A leaf that requires grad, holding t's values.
Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

void bench_softmax(int64_t rows, int64_t cols) {
  Tensor x_cpu = randn({rows, cols}), dy_cpu = randn({rows, cols});
  bench_row_op("softmax", rows, cols, 2, 5, {leaf(x_cpu.to(dev))}, {leaf(x_cpu)}, dy_cpu.to(dev), dy_cpu,
               [](const std::vector<Tensor>& in) { return softmax(in[0], -1); });
}

void bench_layer_norm(int64_t rows, int64_t cols) {
  Tensor x_cpu = randn({rows, cols}), dy_cpu = randn({rows, cols});
  Tensor w_cpu = 1 + 0.1 * randn({cols}), b_cpu = 0.1 * randn({cols});
  bench_row_op("layer_norm", rows, cols, 2, 5, {leaf(x_cpu.to(dev)), leaf(w_cpu.to(dev)), leaf(b_cpu.to(dev))},
               {leaf(x_cpu), leaf(w_cpu), leaf(b_cpu)}, dy_cpu.to(dev), dy_cpu,
               [cols](const std::vector<Tensor>& in) { return layer_norm(in[0], {cols}, in[1], in[2]); });
}

void bench_cross_entropy(int64_t rows, int64_t cols) {
  Tensor x_cpu = randn({rows, cols}), target_cpu = randint(cols, {rows});
  Tensor target = target_cpu.to(dev);
  bench_row_op("cross_entropy", rows, cols, 1, 3, {leaf(x_cpu.to(dev))}, {leaf(x_cpu)}, Tensor(), Tensor(),
               [&](const std::vector<Tensor>& in) {
                 return cross_entropy(in[0], in[0].device().is_cuda() ? target : target_cpu);
               });
}

// Runs one measurement; an error (e.g. an op this build has no CUDA kernel for yet) is reported on a
// "#" line and the others still run.
void attempt(const std::string& what, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    std::printf("# gpu_ops: %s failed: %s\n", what.c_str(), e.what());
    all_ok = false;
  }
}

bool wants(const std::string& only, const char* what) {
  if (only.empty()) return true;
  std::string list = "," + only + ",";
  return list.find(std::string(",") + what + ",") != std::string::npos;
}

}  // namespace

int run(int argc, char** argv) {
  const std::string device_arg = bench::string_arg(argc, argv, "--device", "cuda");
  dev = Device::parse(device_arg);
  if (auto exit_status = bench::unusable_device("gpu_ops", device_arg, dev)) return *exit_status;
  const auto sizes = bench::int_list_arg(argc, argv, "--sizes", {1024, 2048, 4096, 8192});
  const int64_t rows = bench::int_list_arg(argc, argv, "--rows", {8192})[0];
  const int64_t cols = bench::int_list_arg(argc, argv, "--cols", {4096})[0];
  const std::string only = bench::string_arg(argc, argv, "--only", "");
  device_label = dev.is_cuda() ? cuda_device_name(dev.index) : "cpu";
  std::replace(device_label.begin(), device_label.end(), ' ', '_');
  if (dev.is_cuda()) cuda_set_allow_tf32(false);   // as torch.backends.cuda.matmul.allow_tf32 = False
  manual_seed(0);
  std::printf("# gpu_ops: %s on %s, TF32 off\n", device_label.c_str(), dev.str().c_str());

  if (wants(only, "copy")) attempt("copy", bench_copy);
  for (int n : sizes) {
    if (wants(only, "mm")) attempt(fmt::format("mm n={}", n), [n] { bench_mm(n); });
    if (wants(only, "bmm")) attempt(fmt::format("bmm n={}", n), [n] { bench_bmm(n); });
  }
  if (wants(only, "rows")) {
    attempt("softmax", [&] { bench_softmax(rows, cols); });
    attempt("layer_norm", [&] { bench_layer_norm(rows, cols); });
    attempt("cross_entropy", [&] { bench_cross_entropy(rows, cols); });
  }
  return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {   // e.g. a kernel this build does not have yet
    std::printf("# gpu_ops: error: %s\n", e.what());
    return 1;
  }
}
