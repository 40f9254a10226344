"""tools/gen_ref_conv.py -- PyTorch reference values for F.conv2d, F.max_pool2d and F.avg_pool2d
(tests/ops/test_conv.cpp): outputs and the gradients of input, weight and bias for a given dy, in float64
and float32 (float32 computed from the float32-rounded inputs), for several configurations; max-pool
indices; inputs with ties; an NHWC tensor permuted to NCHW. Run: /usr/bin/python3 tools/gen_ref_conv.py
"""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(7)
ref = Ref("conv")

# name: (input shape, weight shape, bias?, stride, padding, dilation, groups)
CONV = {
    "basic": ((2, 3, 7, 6), (4, 3, 3, 3), True, 1, 0, 1, 1),
    "stride2": ((2, 3, 8, 7), (4, 3, 3, 3), True, 2, 0, 1, 1),
    "pad1": ((2, 3, 5, 6), (4, 3, 3, 3), True, 1, 1, 1, 1),
    "dil2": ((1, 2, 9, 8), (3, 2, 3, 3), True, 1, 0, 2, 1),
    "groups2": ((2, 4, 6, 5), (6, 2, 3, 3), True, 1, 1, 1, 2),
    "nobias": ((2, 3, 6, 6), (4, 3, 3, 3), False, (2, 1), (1, 0), 1, 1),
    "unbatched": ((3, 6, 5), (2, 3, 3, 3), True, 1, 1, 1, 1),
    "k1x1": ((2, 5, 4, 4), (3, 5, 1, 1), True, 1, 0, 1, 1),
    "rect": ((2, 2, 5, 9), (3, 2, 2, 4), True, (1, 2), (0, 1), (2, 1), 1),
    "depthwise": ((2, 3, 7, 7), (6, 1, 3, 3), True, 2, 2, 2, 3),
}


def conv_case(name, xs, ws, has_bias, stride, padding, dilation, groups):
    x = torch.randn(*xs, dtype=torch.float64)
    w = torch.randn(*ws, dtype=torch.float64) * 0.5
    b = torch.randn(ws[0], dtype=torch.float64) if has_bias else None
    ref.add(f"{name}_x", x)
    ref.add(f"{name}_w", w)
    if has_bias:
        ref.add(f"{name}_b", b)
    dy = None
    for suffix, dt in (("64", torch.float64), ("32", torch.float32)):
        xx = x.to(dt).clone().requires_grad_(True)
        ww = w.to(dt).clone().requires_grad_(True)
        bb = b.to(dt).clone().requires_grad_(True) if has_bias else None
        y = F.conv2d(xx, ww, bb, stride, padding, dilation, groups)
        if dy is None:
            dy = torch.randn(*y.shape, dtype=torch.float64)
            ref.add(f"{name}_dy", dy)
        y.backward(dy.to(dt))
        ref.add(f"{name}_y{suffix}", y)
        ref.add(f"{name}_dx{suffix}", xx.grad)
        ref.add(f"{name}_dw{suffix}", ww.grad)
        if has_bias:
            ref.add(f"{name}_db{suffix}", bb.grad)


for name, cfg in CONV.items():
    conv_case(name, *cfg)

# Non-contiguous: an NHWC tensor seen as NCHW through permute(0, 3, 1, 2).
x_nhwc = torch.randn(2, 6, 5, 3, dtype=torch.float64)
ref.add("nhwc_x", x_nhwc)
ref.add("nhwc_y", F.conv2d(x_nhwc.permute(0, 3, 1, 2), ref_w := torch.randn(4, 3, 3, 3, dtype=torch.float64),
                           None, 1, 1))
ref.add("nhwc_w", ref_w)

# Pools. name: (kind, input shape, kwargs)
POOL = {
    "max_k2": ("max", (2, 3, 6, 7), dict(kernel_size=2)),
    "max_k3s2p1": ("max", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1)),
    "max_ceil": ("max", (1, 2, 7, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "max_ceil_pad": ("max", (1, 2, 6, 9), dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)),
    "max_dil": ("max", (2, 2, 9, 8), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 3))),
    "max_unbatched": ("max", (3, 5, 5), dict(kernel_size=2, stride=1)),
    "avg_k2": ("avg", (2, 3, 6, 7), dict(kernel_size=2)),
    "avg_k3s2p1": ("avg", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1)),
    "avg_nopad_count": ("avg", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    "avg_ceil": ("avg", (1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "avg_ceil_nocount": ("avg", (1, 2, 6, 9), dict(kernel_size=(2, 3), stride=2, padding=(1, 1), ceil_mode=True,
                                                   count_include_pad=False)),
    "avg_divisor": ("avg", (2, 2, 5, 6), dict(kernel_size=(2, 3), stride=(1, 2), divisor_override=4)),
    "avg_unbatched": ("avg", (3, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
}


def pool_case(name, kind, xs, kw, x=None):
    x = torch.randn(*xs, dtype=torch.float64) if x is None else x
    ref.add(f"{name}_x", x)
    dy = None
    for suffix, dt in (("64", torch.float64), ("32", torch.float32)):
        xx = x.to(dt).clone().requires_grad_(True)
        if kind == "max":
            y, idx = F.max_pool2d(xx, return_indices=True, **kw)
        else:
            y = F.avg_pool2d(xx, **kw)
        if dy is None:
            dy = torch.randn(*y.shape, dtype=torch.float64)
            ref.add(f"{name}_dy", dy)
            if kind == "max":
                ref.add(f"{name}_idx", idx)
        y.backward(dy.to(dt))
        ref.add(f"{name}_y{suffix}", y)
        ref.add(f"{name}_dx{suffix}", xx.grad)


for name, (kind, xs, kw) in POOL.items():
    pool_case(name, kind, xs, kw)

# Ties: small integers, so many windows hold their max twice; the gradient goes to the first.
pool_case("max_ties", "max", None, dict(kernel_size=3, stride=1, padding=1),
          x=torch.randint(0, 3, (2, 2, 5, 6)).to(torch.float64))

# Non-contiguous pools: an NHWC tensor permuted to NCHW.
p_nhwc = torch.randn(2, 6, 7, 3, dtype=torch.float64)
ref.add("pool_nhwc_x", p_nhwc)
ref.add("pool_nhwc_max", F.max_pool2d(p_nhwc.permute(0, 3, 1, 2), 3, 2, 1))
ref.add("pool_nhwc_avg", F.avg_pool2d(p_nhwc.permute(0, 3, 1, 2), 3, 2, 1, count_include_pad=False))

ref.write()
