"""tools/gen_ref_matmul.py -- PyTorch reference values for matmul, bmm and linear
(tests/ops/test_matmul.cpp). Run with /usr/bin/python3; writes tests/reference/matmul.h.

For every case: the inputs (float64), the output computed in float64 and in float32 (from the
inputs rounded to float32), and the gradients of sum(out * w) for a fixed weighting w (float64).
"""
import torch
from refgen import Ref

torch.manual_seed(0)
ref = Ref("matmul")

CASES = {  # name: (shape of a, shape of b)
    "dot": ([5], [5]),
    "vec_mat": ([3], [3, 4]),
    "mat_vec": ([4, 3], [3]),
    "mm": ([3, 4], [4, 5]),
    "vec_batch": ([4], [2, 4, 5]),
    "batch_vec": ([2, 3, 4], [4]),
    "mat_batch": ([3, 4], [2, 4, 5]),
    "batch_mat": ([2, 3, 4], [4, 5]),
    "batch": ([2, 3, 4], [2, 4, 5]),
    "bcast4x3": ([2, 1, 3, 4], [3, 4, 5]),
    "bcast_ones": ([1, 2, 3, 4], [3, 1, 4, 2]),
}


def add_case(name, fn, inputs):
    ref.add(f"{name}_a", inputs[0])
    ref.add(f"{name}_b", inputs[1])
    if len(inputs) > 2:
        ref.add(f"{name}_bias", inputs[2])
    out = fn(*inputs)
    ref.add(f"{name}_out", out)
    ref.add(f"{name}_out32", fn(*[t.float() for t in inputs]))
    leaves = [t.clone().requires_grad_() for t in inputs]
    w = torch.randn(out.shape, dtype=torch.float64)
    ref.add(f"{name}_w", w)
    (fn(*leaves) * w).sum().backward()
    for i, leaf in enumerate(leaves):
        ref.add(f"{name}_grad{i}", leaf.grad)


for name, (sa, sb) in CASES.items():
    a = torch.randn(sa, dtype=torch.float64)
    b = torch.randn(sb, dtype=torch.float64)
    add_case(name, torch.matmul, [a, b])

add_case("bmm", torch.bmm, [torch.randn(3, 2, 4, dtype=torch.float64), torch.randn(3, 4, 5, dtype=torch.float64)])
add_case("linear", torch.nn.functional.linear,
         [torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64),
          torch.randn(5, dtype=torch.float64)])

ref.write()
