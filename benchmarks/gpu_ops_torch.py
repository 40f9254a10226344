"""benchmarks/gpu_ops_torch.py -- twin of benchmarks/gpu_ops.cpp: the same ops, shapes, byte counts and
timing in PyTorch (2.x with CUDA on the GPU machine; scripts/gpu-check.sh runs both). float32, TF32 off.

    gpu_ops_torch.py [--device cuda|cuda:N|cpu] [--sizes 1024,2048,4096,8192] [--rows 8192] [--cols 4096]
                     [--only copy,mm,bmm,rows]

  copy     x.clone() of a 256 MiB tensor: 2 x 256 MiB / time, the bandwidth floor
  mm       torch.mm (n, n) @ (n, n); GFLOP/s = 2 n^3 / time
  bmm      torch.bmm (16, n/4, n/4) @ (16, n/4, n/4); GFLOP/s = 16 x 2 (n/4)^3 / time
  softmax, layer_norm, cross_entropy on (rows, cols), last dim, pass=fwd (no_grad) and pass=fwdbwd
           (.grad cleared before each backward); bytes in units of N = rows x cols x 4:
           softmax 2N / 5N, layer_norm 2N / 5N, cross_entropy 1N / 3N (see gpu_ops.cpp)

Timing: 3 warm-up calls, then 15 samples of `reps` back-to-back calls between two synchronizations
(reps: about 25 ms a sample); the median time per call. When CUDA is not available the program says
so on a "#" line and runs on the CPU instead (device=cpu in every line): a check that it runs, not a
measurement to compare with a GPU.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_torch import gpu_device  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--device", default="cuda")
p.add_argument("--sizes", default="1024,2048,4096,8192")
p.add_argument("--rows", type=int, default=8192)
p.add_argument("--cols", type=int, default=4096)
p.add_argument("--only", default="", help="comma-separated subset of copy,mm,bmm,rows")
args = p.parse_args()

dev, label, sync = gpu_device(args.device, "gpu_ops_torch.py")
torch.manual_seed(0)
tf32 = int(dev.type == "cuda" and torch.backends.cuda.matmul.allow_tf32)
print(f"# gpu_ops_torch.py: {label} on {dev}, torch {torch.__version__}, TF32 off", flush=True)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def time_op(op):
    for _ in range(3):
        op()
    sync()
    t0 = time.perf_counter()
    op()
    sync()
    one = time.perf_counter() - t0
    reps = min(1000, max(1, int(0.025 / max(one, 1e-7))))
    per_call = []
    for _ in range(15):
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            op()
        sync()
        per_call.append((time.perf_counter() - t0) / reps)
    return median(per_call)


def wants(what):
    return not args.only or what in args.only.split(",")


def bench_copy():
    x = torch.randn(1 << 26, device=dev)   # 256 MiB of float32
    s = time_op(lambda: x.clone())
    nbytes = 2.0 * x.numel() * 4
    print(f"RESULT bench=gpu_copy impl=torch device={label} bytes={nbytes:.0f} ms={s * 1e3:.4f} "
          f"gbps={nbytes / s / 1e9:.1f} check=-", flush=True)


def bench_gemm(op, n):
    batch, m = (1, n) if op == "mm" else (16, n // 4)
    shape = (m, m) if op == "mm" else (batch, m, m)
    a, b = torch.randn(shape, device=dev), torch.randn(shape, device=dev)
    fn = torch.mm if op == "mm" else torch.bmm
    s = time_op(lambda: fn(a, b))
    print(f"RESULT bench=gpu_gemm impl=torch device={label} op={op} n={n} batch={batch} m={m} ms={s * 1e3:.4f} "
          f"gflops={2.0 * batch * m ** 3 / s / 1e9:.1f} tf32={tf32} check=-", flush=True)


def report_row(op, pass_, units, s):
    nbytes = units * args.rows * args.cols * 4
    print(f"RESULT bench=gpu_rows impl=torch device={label} op={op} pass={pass_} rows={args.rows} cols={args.cols} "
          f"bytes={nbytes:.0f} ms={s * 1e3:.4f} gbps={nbytes / s / 1e9:.1f} check=-", flush=True)


def bench_row_op(op, fwd_units, fwdbwd_units, leaves, dy, f):
    def fwd():
        with torch.no_grad():
            f()

    def fwdbwd():
        for t in leaves:
            t.grad = None
        f().backward(dy)

    report_row(op, "fwd", fwd_units, time_op(fwd))
    report_row(op, "fwdbwd", fwdbwd_units, time_op(fwdbwd))


def bench_rows():
    rows, cols = args.rows, args.cols
    x = torch.randn(rows, cols, device=dev, requires_grad=True)
    dy = torch.randn(rows, cols, device=dev)
    bench_row_op("softmax", 2, 5, [x], dy, lambda: torch.softmax(x, -1))
    w = (1 + 0.1 * torch.randn(cols, device=dev)).requires_grad_()
    b = (0.1 * torch.randn(cols, device=dev)).requires_grad_()
    bench_row_op("layer_norm", 2, 5, [x, w, b], dy, lambda: F.layer_norm(x, (cols,), w, b))
    target = torch.randint(cols, (rows,), device=dev)
    bench_row_op("cross_entropy", 1, 3, [x], None, lambda: F.cross_entropy(x, target))


if wants("copy"):
    bench_copy()
for n in [int(s) for s in args.sizes.split(",")]:
    if wants("mm"):
        bench_gemm("mm", n)
    if wants("bmm"):
        bench_gemm("bmm", n)
if wants("rows"):
    bench_rows()
