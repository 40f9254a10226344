"""benchmarks/overhead_torch.py -- twin of benchmarks/overhead.cpp: the same chain of 1,500 tiny ops
(x = x * 1.0001 + 0.0001, tanh, ...) on a 64-element float32 leaf, then backward; microseconds per
op, median of the repetitions (wall-clock and thread CPU time). Run with /usr/bin/python3 by
benchmarks/run.sh:

    overhead_torch.py --threads T --config NAME [--reps 50]
"""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--config", required=True)
p.add_argument("--reps", type=int, default=50)
args = p.parse_args()
torch.set_num_threads(args.threads)

OPS = 1500
x0 = torch.full((64,), 0.5, requires_grad=True)
seed = torch.ones(64)


def run():
    x = x0
    for _ in range(OPS // 3):
        x = x * 1.0001 + 0.0001
        x = torch.tanh(x)
    x.backward(seed)


for _ in range(5):
    run()


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


wall, cpu = [], []
for _ in range(args.reps):
    x0.grad = None
    s, c = time.perf_counter(), time.thread_time()
    run()
    cpu.append(time.thread_time() - c)
    wall.append(time.perf_counter() - s)
print(f"RESULT bench=overhead impl=torch config={args.config} us_per_op={median(wall) / OPS * 1e6:.3f} "
      f"cpu_us_per_op={median(cpu) / OPS * 1e6:.3f}")
