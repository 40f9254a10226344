"""tools/gen_ref_print.py -- what PyTorch prints, for tests/tensor/test_print.cpp.

Writes tests/reference/print.h: for each case the input values (a RefTensor, see refgen.py), and
the string torch prints. The body comes from torch._tensor_str._tensor_str (PyTorch's own
formatting); the suffixes are ours -- dtype=float64 instead of dtype=torch.float64, grad_fn=<MulBackward>
instead of <MulBackward0> -- laid out by PyTorch's own _add_suffixes, so line wrapping is decided by
PyTorch's rule applied to our (shorter) suffix text. Where our suffixes equal PyTorch's, the script
asserts the result is exactly str(tensor).

Run with /usr/bin/python3 (Debian's python3-torch).
"""
import os
import sys

import torch
import torch._tensor_str as ts

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refgen import Ref, OUT_DIR  # noqa: E402

torch.manual_seed(0)
DTYPES = {torch.float32: "kFloat32", torch.float64: "kFloat64", torch.int64: "kInt64", torch.bool: "kBool"}
NAMES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}

cases = []  # (name, tensor, mode) mode: "plain" | "requires_grad" | "mul2"


def case(name, t, mode="plain"):
    cases.append((name, t, mode))


case("f32_matrix", torch.tensor([[0.1234, -1.0], [2.5, 3.0]]))
case("f32_ints", torch.tensor([1.0, 2.0, 3.0]))
case("f32_zeros", torch.zeros(2, 3))
case("f32_sci_small", torch.tensor([1e-5, 1.0, 100.0]))
case("f32_sci_range", torch.tensor([0.5, 1234.5678]))
case("f32_sci_ints", torch.tensor([1e9, 1.0]))
case("f32_int_range", torch.tensor([1.0, 5000.0]))
case("f32_nonfinite_ints", torch.tensor([1.0, float("nan"), float("inf"), -float("inf")]))
case("f32_nonfinite", torch.tensor([0.5, float("nan"), -float("inf")]))
case("f32_negzero", torch.tensor([-0.0, 0.25]))
case("f32_ties", torch.tensor([1.03125, -0.40625, 2.5]))  # exact binary ties: round half to even
case("f32_scalar", torch.tensor(3.14159))
case("f32_scalar_int", torch.tensor(-2.0))
case("f32_3d", torch.arange(12, dtype=torch.float32).reshape(2, 2, 3) / 4)
case("f32_wrap", torch.arange(30, dtype=torch.float32) / 7)
case("f32_randn", torch.randn(4, 5))
case("f32_summarised_2d", torch.arange(2000, dtype=torch.float32).reshape(40, 50))
case("f32_summarised_3d", torch.randn(11, 10, 10))
case("f32_summarised_edge_rows", torch.randn(1001, 1))
case("f64_vector", torch.tensor([1.5, -2.25], dtype=torch.float64))
case("f64_wrap", torch.randn(3, 9, dtype=torch.float64))
case("i64_matrix", torch.tensor([[1, -20], [300, 4]]))
case("i64_summarised", torch.arange(1001))
case("i64_scalar", torch.tensor(7))
case("bool_vector", torch.tensor([True, False, True]))
case("empty_f32", torch.zeros(0))
case("empty_2d", torch.zeros(2, 0))
case("empty_i64", torch.zeros(0, dtype=torch.int64))
case("leaf_requires_grad", torch.tensor([1.0, 2.0]), "requires_grad")
case("mul_grad_fn", torch.tensor([[1.0, 2.0], [3.0, 4.5]]), "mul2")
case("f64_grad_fn_wrap", torch.randn(2, 7, dtype=torch.float64), "mul2")


def expected(t, mode):
    if mode == "requires_grad":
        t = t.clone().requires_grad_(True)
    elif mode == "mul2":
        t = t.clone().requires_grad_(True) * 2
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.numel() == 0:
        if t.dim() != 1:
            suffixes.append("size=" + str(tuple(t.shape)))
        if t.dtype != torch.float32:
            suffixes.append("dtype=" + NAMES[t.dtype])
        body = "[]"
    else:
        if t.dtype not in (torch.float32, torch.int64, torch.bool):
            suffixes.append("dtype=" + NAMES[t.dtype])
        body = ts._tensor_str(t.detach(), indent)
    if t.grad_fn is not None:
        suffixes.append("grad_fn=<{}>".format(type(t.grad_fn).__name__.rstrip("0123456789")))
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    ours = ts._add_suffixes(prefix + body, suffixes, indent, force_newline=False)
    if t.dtype == torch.float32 or (t.numel() > 0 and t.dtype != torch.float64):
        if t.grad_fn is None:
            assert ours == str(t), (ours, str(t))
    return ours


ref = Ref("print")
lines = []
for name, t, mode in cases:
    ref.add(name, t)
    s = expected(t, mode)
    assert ")ATTO\"" not in s
    lines.append(f'inline const char* {name}_str = R"ATTO({s})ATTO";')
    lines.append(f"inline constexpr atto::DType {name}_dtype = atto::{DTYPES[t.dtype]};")
ref.write()
path = os.path.join(OUT_DIR, "print.h")
with open(path) as f:
    text = f.read()
tail = "}  // namespace ref::print\n"
assert text.endswith(tail)
text = text[: -len(tail)] + "\n".join(lines) + "\n" + tail
with open(path, "w") as f:
    f.write(text)
print(f"added {len(cases)} strings to {path}")
