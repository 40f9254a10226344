"""tools/gen_ref_reduce.py -- PyTorch reference values for the reductions (tests/ops/test_reduce.cpp).

For every case, the output on a float64 input (`<case>_f64`), on the same input rounded to float32
(`<case>_f32`), and on a permuted, non-contiguous view of it (`<case>_nc`), plus gradients where
PyTorch's rule is a choice (ties of max, the norm at zero). Run: /usr/bin/python3 tools/gen_ref_reduce.py
"""
import math

import torch

from refgen import Ref

torch.manual_seed(0)
ref = Ref("reduce")

x = torch.randn(3, 4, 5, dtype=torch.float64)
ref.add("x", x)

# name -> function of the input; the C++ test lists the same cases.
cases = {
    "sum_all": lambda t: t.sum(),
    "sum_d1": lambda t: t.sum(1),
    "sum_d02_keep": lambda t: t.sum((0, 2), keepdim=True),
    "mean_all": lambda t: t.mean(),
    "mean_dm1_keep": lambda t: t.mean(-1, keepdim=True),
    "var_all": lambda t: t.var(),
    "var_d1": lambda t: t.var(1),
    "var_d02_biased_keep": lambda t: t.var((0, 2), unbiased=False, keepdim=True),
    "std_all": lambda t: t.std(),
    "std_dm1": lambda t: t.std(-1),
    "std_d01_biased_keep": lambda t: t.std((0, 1), unbiased=False, keepdim=True),
    "max_all": lambda t: t.max(),
    "min_all": lambda t: t.min(),
    "max_d1_values": lambda t: t.max(1).values,
    "max_d1_indices": lambda t: t.max(1).indices,
    "min_dm1_keep_values": lambda t: t.min(-1, keepdim=True).values,
    "min_dm1_keep_indices": lambda t: t.min(-1, keepdim=True).indices,
    "argmax_all": lambda t: t.argmax(),
    "argmax_all_keep": lambda t: torch.argmax(t, keepdim=True),
    "argmax_d2": lambda t: t.argmax(2),
    "argmin_d0_keep": lambda t: t.argmin(0, keepdim=True),
    "argmin_all": lambda t: t.argmin(),
    "logsumexp_all": lambda t: torch.logsumexp(t, (0, 1, 2)),
    "logsumexp_d1": lambda t: torch.logsumexp(t, 1),
    "logsumexp_d02_keep": lambda t: torch.logsumexp(t, (0, 2), keepdim=True),
    "norm2_all": lambda t: torch.norm(t),
    "norm1_d1": lambda t: torch.norm(t, 1, dim=1),
    "norm3_dm1_keep": lambda t: torch.norm(t, 3, dim=-1, keepdim=True),
    "norminf_d02": lambda t: torch.norm(t, math.inf, dim=(0, 2)),
    "normhalf_d2": lambda t: torch.norm(t, 0.5, dim=2),
}
perm = (2, 0, 1)
for name, fn in cases.items():
    ref.add(f"{name}_f64", fn(x))
    ref.add(f"{name}_f32", fn(x.float()))
    ref.add(f"{name}_nc", fn(x.permute(*perm)))

# Large values: logsumexp must not overflow.
big = x * 1000
ref.add("big", big)
ref.add("logsumexp_big_d1", torch.logsumexp(big, 1))

# Ties: the full max/min share the gradient evenly; max(dim) sends it to the returned index;
# argmax picks the first occurrence; the inf-norm shares among |x| ties (with the sign).
ties = torch.tensor([[1.0, 3.0, 3.0, -3.0], [2.0, 2.0, -1.0, 0.5], [3.0, 0.0, 3.0, 1.0]], dtype=torch.float64)
ref.add("ties", ties)
for name, fn in {
    "max_all": lambda t: t.max(),
    "min_all": lambda t: t.min(),
    "max_d1": lambda t: t.max(1).values,
    "max_d0": lambda t: t.max(0).values,
    "norminf_d1": lambda t: torch.norm(t, math.inf, dim=1),
    "norminf_all": lambda t: torch.norm(t, math.inf),
}.items():
    t = ties.clone().requires_grad_(True)
    y = fn(t)
    w = torch.arange(1, y.numel() + 1, dtype=torch.float64).reshape(y.shape)   # distinct weights per output
    (y * w).sum().backward()
    ref.add(f"ties_{name}_grad", t.grad)
ref.add("ties_max_d1_indices", ties.max(1).indices)
ref.add("ties_max_d0_indices", ties.max(0).indices)
ref.add("ties_argmax_d1", ties.argmax(1))
ref.add("ties_argmin_d0", ties.argmin(0))

# int64 inputs: max/min/argmax keep the integer dtype and its exact values.
ints = torch.tensor([[3, -1, 7], [7, 2, 0]])
ref.add("ints", ints)
ref.add("ints_max_all", ints.max())
ref.add("ints_min_all", ints.min())
ref.add("ints_max_d1_values", ints.max(1).values)
ref.add("ints_max_d1_indices", ints.max(1).indices)
ref.add("ints_argmin_d0", ints.argmin(0))

# The norms' gradient at zero (a zero row among non-zero ones).
z = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]], dtype=torch.float64)
ref.add("zrow", z)
for name, p in {"norm2": 2.0, "norm1": 1.0, "norm3": 3.0, "normhalf": 0.5, "norm1p5": 1.5}.items():
    t = z.clone().requires_grad_(True)
    y = torch.norm(t, p, dim=1)
    y.backward(torch.tensor([1.5, -0.5], dtype=torch.float64))
    ref.add(f"zrow_{name}_y", y)
    ref.add(f"zrow_{name}_grad", t.grad)

ref.write()
