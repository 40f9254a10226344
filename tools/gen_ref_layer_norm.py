"""tools/gen_ref_layer_norm.py -- PyTorch reference values for F.layer_norm (tests/ops/test_layer_norm.cpp):
outputs in float64 and float32, gradients of x, weight and bias, a non-contiguous input, no affine
parameters, two normalised dims. Run: /usr/bin/python3 tools/gen_ref_layer_norm.py
"""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(2)
ref = Ref("layer_norm")

x = torch.randn(2, 3, 4, dtype=torch.float64) * 2 + 1
w1 = torch.randn(4, dtype=torch.float64)
b1 = torch.randn(4, dtype=torch.float64)
w2 = torch.randn(3, 4, dtype=torch.float64)
b2 = torch.randn(3, 4, dtype=torch.float64)
dy = torch.randn(2, 3, 4, dtype=torch.float64)
for name, t in {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "dy": dy}.items():
    ref.add(name, t)

cases = {
    "last": lambda x, p: F.layer_norm(x, (4,), p["w1"], p["b1"]),
    "last_noaffine": lambda x, p: F.layer_norm(x, (4,)),
    "last_eps": lambda x, p: F.layer_norm(x, (4,), p["w1"], p["b1"], eps=1e-1),
    "two": lambda x, p: F.layer_norm(x, (3, 4), p["w2"], p["b2"]),
}
p64 = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
p32 = {k: v.float() for k, v in p64.items()}
for name, fn in cases.items():
    ref.add(f"{name}_f64", fn(x, p64))
    ref.add(f"{name}_f32", fn(x.float(), p32))

# Gradients for a given dy.
for name, (shape, w, b) in {"last": ((4,), w1, b1), "two": ((3, 4), w2, b2)}.items():
    xx, ww, bb = (t.clone().requires_grad_(True) for t in (x, w, b))
    F.layer_norm(xx, shape, ww, bb).backward(dy)
    ref.add(f"{name}_dx", xx.grad)
    ref.add(f"{name}_dw", ww.grad)
    ref.add(f"{name}_db", bb.grad)

# A non-contiguous input: x.transpose(0, 1) is [3, 2, 4].
ref.add("nc_last", F.layer_norm(x.transpose(0, 1), (4,), w1, b1))
xt = torch.randn(4, 3, dtype=torch.float64)
ref.add("xt", xt)
ref.add("nc_t", F.layer_norm(xt.t(), (4,), w1, b1))   # a transposed [3, 4]: rows are strided

ref.write()
