"""benchmarks/gemm_torch.py -- twin of benchmarks/gemm.cpp: torch.mm on float32 n x n matrices,
GFLOP/s (2 n^3 / median time). Run with /usr/bin/python3 (Debian's PyTorch) by benchmarks/run.sh,
which sets the thread environment for each configuration (it must be set before torch starts):

    gemm_torch.py --threads T --config NAME [--sizes 128,512,1024,2048]

--threads is passed to torch.set_num_threads; --config only labels the output lines.
"""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--config", required=True)
p.add_argument("--label-threads", type=int, help="thread count to report (default --threads)")
p.add_argument("--sizes", default="128,512,1024,2048")
args = p.parse_args()
torch.set_num_threads(args.threads)
label = args.label_threads or args.threads

for n in [int(s) for s in args.sizes.split(",")]:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=g) * 2 - 1
    b = torch.rand(n, n, generator=g) * 2 - 1
    torch.mm(a, b)  # warm up
    t0 = time.perf_counter()
    torch.mm(a, b)
    one = time.perf_counter() - t0
    reps = min(200, max(5, int(0.4 / max(one, 1e-6))))
    times = []
    for _ in range(reps):
        s = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - s)
    times.sort()
    med = times[len(times) // 2] if reps % 2 else 0.5 * (times[reps // 2 - 1] + times[reps // 2])
    print(f"RESULT bench=gemm impl=torch config={args.config} threads={label} n={n} "
          f"gflops={2.0 * n ** 3 / med / 1e9:.2f}")
