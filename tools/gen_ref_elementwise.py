"""tools/gen_ref_elementwise.py -- PyTorch reference values for tests/ops/test_elementwise*.cpp.

Run with /usr/bin/python3 (PyTorch installed there); writes tests/reference/elementwise.h.

For every differentiable op <op>: <op>_x (input, float64 values exactly representable in float32),
<op>_y (float64 output), <op>_y32 (output computed in float32), <op>_w (an upstream gradient) and
<op>_gx = d(sum(y * w))/dx. Binary ops have _a, _b, _ga, _gb instead of _x, _gx. The kink_* entries
put inputs exactly on the kinks (relu at 0, clamp at its bounds, ...) to pin PyTorch's conventions
there, which gradcheck cannot see.
"""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(0)
ref = Ref("elementwise")


def rnd(shape, lo, hi, avoid=(), gap=0.05):
    x = torch.empty(shape, dtype=torch.float64).uniform_(lo, hi)
    for a in avoid:   # push values away from kinks
        near = (x - a).abs() < gap
        x = torch.where(near, x + 2 * gap * torch.sign(x - a + 1e-12), x)
    return x.float().double()   # representable in float32, so the float32 test sees the same input


def grads(fn, inputs, w):
    inputs = [t.clone().requires_grad_(True) for t in inputs]
    y = fn(*inputs)
    gs = torch.autograd.grad(y, inputs, grad_outputs=w)
    return y.detach(), gs


# ---- unary: name -> (fn, lo, hi, avoid) -------------------------------------------------------------------
UNARY = {
    "neg": (torch.neg, -3, 3, ()),
    "abs": (torch.abs, -3, 3, (0,)),
    "exp": (torch.exp, -3, 3, ()),
    "log": (torch.log, 0.1, 3, ()),
    "log1p": (torch.log1p, -0.9, 3, ()),
    "sqrt": (torch.sqrt, 0.1, 3, ()),
    "rsqrt": (torch.rsqrt, 0.1, 3, ()),
    "sin": (torch.sin, -3, 3, ()),
    "cos": (torch.cos, -3, 3, ()),
    "tanh": (torch.tanh, -3, 3, ()),
    "sigmoid": (torch.sigmoid, -6, 6, ()),
    "relu": (torch.relu, -3, 3, (0,)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), -3, 3, (0,)),
    "leaky_relu_default": (F.leaky_relu, -3, 3, (0,)),
    "gelu": (F.gelu, -4, 4, ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), -4, 4, ()),
    "silu": (F.silu, -5, 5, ()),
    "softplus": (F.softplus, -5, 5, ()),
    "softplus_b2t3": (lambda x: F.softplus(x, beta=2, threshold=3), -3, 3, (1.5,)),
    "pow_2_5": (lambda x: torch.pow(x, 2.5), 0.1, 3, ()),
    "pow_3": (lambda x: torch.pow(x, 3.0), -3, 3, ()),
    "pow_neg1_5": (lambda x: torch.pow(x, -1.5), 0.2, 3, ()),
    "clamp": (lambda x: torch.clamp(x, -1.0, 1.5), -3, 3, (-1.0, 1.5)),
    "clamp_min": (lambda x: torch.clamp(x, min=0.5), -3, 3, (0.5,)),
    "clamp_max": (lambda x: torch.clamp(x, max=-0.5), -3, 3, (-0.5,)),
    # scalar forms
    "add_s": (lambda x: x + 0.75, -3, 3, ()),
    "radd_s": (lambda x: 0.75 + x, -3, 3, ()),
    "sub_s": (lambda x: x - 0.75, -3, 3, ()),
    "rsub_s": (lambda x: 2.0 - x, -3, 3, ()),
    "mul_s": (lambda x: x * 1.5, -3, 3, ()),
    "rmul_s": (lambda x: -1.5 * x, -3, 3, ()),
    "div_s": (lambda x: x / 1.5, -3, 3, ()),
    "rdiv_s": (lambda x: 2.0 / x, 0.5, 3, ()),
    "rpow_s": (lambda x: torch.pow(2.5, x), -2, 2, ()),
}
for name, (fn, lo, hi, avoid) in UNARY.items():
    x = rnd((3, 5), lo, hi, avoid)
    w = rnd((3, 5), -1, 1)
    y, (gx,) = grads(fn, [x], w)
    ref.add(f"{name}_x", x)
    ref.add(f"{name}_w", w)
    ref.add(f"{name}_y", y)
    ref.add(f"{name}_y32", fn(x.float()))
    ref.add(f"{name}_gx", gx)

# ---- binary: name -> (fn, a range, b range, a shape, b shape) ------------------------------------------------
def ties(shape):   # small integers as floats: maximum/minimum meet ties
    return torch.randint(-2, 3, shape).double()


BINARY = {
    "add": (torch.add, (-3, 3), (-3, 3), (3, 4), (4,)),
    "add_alpha": (lambda a, b: torch.add(a, b, alpha=0.5), (-3, 3), (-3, 3), (3, 4), (4,)),
    "sub": (torch.sub, (-3, 3), (-3, 3), (3, 4), (4,)),
    "sub_alpha": (lambda a, b: torch.sub(a, b, alpha=2.5), (-3, 3), (-3, 3), (3, 4), (3, 1)),
    "mul": (torch.mul, (-3, 3), (-3, 3), (3, 4), (4,)),
    "mul_outer": (torch.mul, (-3, 3), (-3, 3), (3, 1), (1, 4)),
    "div": (torch.div, (-3, 3), (0.5, 2), (3, 4), (4,)),
    "maximum": (torch.maximum, "ties", "ties", (3, 4), (4,)),
    "minimum": (torch.minimum, "ties", "ties", (3, 4), (4,)),
    "pow": (torch.pow, (0.5, 2), (-2, 2), (3, 4), (4,)),
}
for name, (fn, ra, rb, sa, sb) in BINARY.items():
    a = ties(sa) if ra == "ties" else rnd(sa, *ra)
    b = ties(sb) if rb == "ties" else rnd(sb, *rb)
    if name == "div":
        b = b * torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    w = rnd(torch.broadcast_shapes(sa, sb), -1, 1)
    y, (ga, gb) = grads(fn, [a, b], w)
    for k, v in [("a", a), ("b", b), ("w", w), ("y", y), ("y32", fn(a.float(), b.float())), ("ga", ga), ("gb", gb)]:
        ref.add(f"{name}_{k}", v)

# ---- kinks: PyTorch's gradient conventions at non-differentiable points -----------------------------------------
KINKS = {
    "relu": (torch.relu, [-1.0, 0.0, 1.0]),
    "abs": (torch.abs, [-1.0, 0.0, 1.0]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [-1.0, 0.0, 1.0]),
    "clamp": (lambda x: torch.clamp(x, -1.0, 1.5), [-2.0, -1.0, 0.0, 1.5, 2.0]),
    "pow0": (lambda x: torch.pow(x, 0.0), [-1.0, 0.0, 2.0]),
    "pow2": (lambda x: torch.pow(x, 2.0), [-1.0, 0.0, 2.0]),
    "rpow0": (lambda x: torch.pow(0.0, x), [0.0, 1.0, 2.0]),
}
for name, (fn, vals) in KINKS.items():
    x = torch.tensor(vals, dtype=torch.float64)
    w = torch.linspace(0.5, 1.5, len(vals), dtype=torch.float64)
    y, (gx,) = grads(fn, [x], w)
    for k, v in [("x", x), ("w", w), ("y", y), ("gx", gx)]:
        ref.add(f"kink_{name}_{k}", v)
# pow(tensor, tensor) with a zero base and a zero exponent
pa = torch.tensor([0.0, 0.0, 2.0, 0.0], dtype=torch.float64)
pb = torch.tensor([0.0, 2.0, 0.0, 1.0], dtype=torch.float64)
pw = torch.ones(4, dtype=torch.float64)
py, (pga, pgb) = grads(torch.pow, [pa, pb], pw)
for k, v in [("a", pa), ("b", pb), ("y", py), ("ga", pga), ("gb", pgb)]:
    ref.add(f"kink_powtt_{k}", v)

# ---- comparisons -------------------------------------------------------------------------------------------------
ca, cb = ties((3, 4)), ties((4,))
ref.add("cmp_a", ca)
ref.add("cmp_b", cb)
for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
    ref.add(f"cmp_{op}", getattr(torch, op)(ca, cb))
    ref.add(f"cmp_{op}_s", getattr(torch, op)(ca, 1.0))
ref.add("cmp_and", torch.logical_and(ca > 0, cb < 1))
ref.add("cmp_or", torch.logical_or(ca > 0, cb < 1))
ref.add("cmp_not", torch.logical_not(ca))

# ---- where / masked_fill ------------------------------------------------------------------------------------------
cond = torch.rand(3, 4) > 0.5
wa, wb = rnd((4,), -3, 3), rnd((3, 1), -3, 3)
ww = rnd((3, 4), -1, 1)
wy, (wga, wgb) = grads(lambda a, b: torch.where(cond, a, b), [wa, wb], ww)
for k, v in [("cond", cond), ("a", wa), ("b", wb), ("w", ww), ("y", wy), ("ga", wga), ("gb", wgb)]:
    ref.add(f"where_{k}", v)

mx, mmask = rnd((3, 4), -3, 3), torch.rand(4) > 0.5
mw = rnd((3, 4), -1, 1)
my, (mgx,) = grads(lambda x: x.masked_fill(mmask, -7.5), [mx], mw)
for k, v in [("x", mx), ("mask", mmask), ("w", mw), ("y", my), ("gx", mgx)]:
    ref.add(f"masked_fill_{k}", v)

# ---- integers: int64 arithmetic and promotion to float ----------------------------------------------------------
ia, ib = torch.randint(-9, 10, (3, 4)), torch.randint(1, 5, (4,))
ref.add("int_a", ia)
ref.add("int_b", ib)
ref.add("int_add", ia + ib)
ref.add("int_sub", ia - ib)
ref.add("int_mul", ia * ib)
ref.add("int_div", ia / ib)              # true division -> float32
ref.add("int_mul_2", ia * 2)             # stays int64
ref.add("int_mul_2_5", ia * 2.5)         # float32
ref.add("int_pow_2", ia ** 2)            # int64
ref.add("int_max", torch.maximum(ia, ib))

ref.write()
