"""tools/gen_ref_attention.py -- PyTorch reference values for attention (tests/ops/test_attention.cpp):
scaled dot-product attention in many configurations, additive (Bahdanau) and cosine attention, with the
gradients of q, k, v (and of the additive weights). Run: /usr/bin/python3 tools/gen_ref_attention.py

PyTorch 1.13 has no F.scaled_dot_product_attention (it arrived in 2.0), so `sdpa` below is an explicit
float64 implementation of 2.x's math path, written with plain torch ops:

    softmax(q @ k^T * scale + mask) @ v,  mask: bool (True = take part, else -inf) or float (added),
    is_causal = ones(L, S).tril(), scale = 1 / sqrt(E) unless given,

with 2.5+'s safe softmax for fully masked rows (weights 0 where every score is -inf;
pytorch/pytorch#133882). Where 1.13's private F._scaled_dot_product_attention covers a case (default
scale, no fully masked row) the script asserts that both agree, and it records 1.13's NaN for a fully
masked row.
"""
import math

import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(0)
ref = Ref("attention")
D = torch.float64


class SafeSoftmax(torch.autograd.Function):
    """PyTorch >= 2.5's at::_safe_softmax over the last dim: softmax, with 0s in a row whose scores are
    all -inf; its backward is softmax's, from the result (derivatives.yaml), so those rows pass 0."""

    @staticmethod
    def forward(ctx, scores):
        w = torch.softmax(scores, dim=-1)
        dead = torch.isneginf(scores).all(dim=-1, keepdim=True)
        w = torch.where(dead, torch.zeros_like(w), w)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, dw):
        (w,) = ctx.saved_tensors
        return w * (dw - (dw * w).sum(dim=-1, keepdim=True))


safe_softmax = SafeSoftmax.apply


def sdpa(q, k, v, mask=None, is_causal=False, scale=None):
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if is_causal:
        mask = torch.ones(L, S, dtype=torch.bool).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    w = safe_softmax(scores)
    return w @ v, w


def with_grads(fn, inputs, gout_shape=None):
    """Runs fn on leaf copies; returns (outputs, gout, grads) for the loss sum(out * gout)."""
    xs = [x.detach().clone().requires_grad_(True) for x in inputs]
    outs = fn(*xs)
    gout = torch.randn(outs[0].shape, dtype=D)
    (outs[0] * gout).sum().backward()
    return [o.detach() for o in outs], gout, [x.grad for x in xs]


def add_sdpa_case(name, q, k, v, mask=None, is_causal=False, scale=None, check_113=True):
    (out, w), gout, (gq, gk, gv) = with_grads(lambda a, b, c: sdpa(a, b, c, mask, is_causal, scale), [q, k, v])
    if check_113:   # 1.13's private version: default scale only, NaN for fully masked rows
        o13, w13 = F._scaled_dot_product_attention(q, k, v, mask, 0.0, True, is_causal)
        assert torch.allclose(o13, out, rtol=1e-12, atol=1e-14), name
        assert torch.allclose(w13, w, rtol=1e-12, atol=1e-14), name
    for n, t in [("q", q), ("k", k), ("v", v), ("out", out), ("weights", w), ("gout", gout), ("gq", gq), ("gk", gk),
                 ("gv", gv)]:
        ref.add(f"{name}_{n}", t)
    if mask is not None:
        ref.add(f"{name}_mask", mask)


def rn(*shape):
    return torch.randn(*shape, dtype=D)


# ---- scaled dot-product attention ------------------------------------------------------------------
add_sdpa_case("nomask", rn(2, 3, 4), rn(2, 5, 4), rn(2, 5, 4))                    # L != S
bool_mask = torch.rand(3, 5) > 0.4
bool_mask[:, 0] = True                                                             # no fully masked row
add_sdpa_case("boolmask", rn(2, 2, 3, 4), rn(2, 2, 5, 4), rn(2, 2, 5, 6), bool_mask)   # Ev != E, mask broadcast
float_mask = rn(2, 1, 3, 5)
float_mask[0, 0, 1, 2] = float("-inf")                                             # one masked-out key
add_sdpa_case("floatmask", rn(2, 2, 3, 4), rn(2, 2, 5, 4), rn(2, 2, 5, 6), float_mask)
add_sdpa_case("causal", rn(2, 4, 3), rn(2, 4, 3), rn(2, 4, 5), is_causal=True)
add_sdpa_case("causal_tall", rn(2, 5, 3), rn(2, 3, 3), rn(2, 3, 2), is_causal=True)   # L > S
add_sdpa_case("causal_wide", rn(2, 3, 3), rn(2, 5, 3), rn(2, 5, 2), is_causal=True)   # L < S
add_sdpa_case("bcast", rn(2, 3, 3, 4), rn(3, 5, 4), rn(1, 5, 6))                   # batch dims broadcast
add_sdpa_case("scale", rn(2, 3, 4), rn(2, 5, 4), rn(2, 5, 4), scale=0.3, check_113=False)

# A fully masked query row (row 1 of batch 0): 2.5+'s safe softmax gives 0s; 1.13 gives NaN.
full_mask = torch.rand(2, 3, 5) > 0.3
full_mask[:, :, 0] = True
full_mask[0, 1, :] = False
q, k, v = rn(2, 3, 4), rn(2, 5, 4), rn(2, 5, 6)
add_sdpa_case("fullmask", q, k, v, full_mask, check_113=False)
o13, w13 = F._scaled_dot_product_attention(q, k, v, full_mask, 0.0, True, False)
assert o13[0, 1].isnan().all() and w13[0, 1].isnan().all()
ref.add("fullmask_out_nan", o13)     # the plain softmax: NaN in the masked row, the rest as above
# The same row masked with a float -inf mask.
add_sdpa_case("fullmask_float", q, k, v, torch.zeros(2, 3, 5, dtype=D).masked_fill(~full_mask, float("-inf")),
              check_113=False)


# ---- additive (Bahdanau) attention -----------------------------------------------------------------
def additive(query, keys, values, w_q, w_k, v_a, mask=None):
    e = torch.tanh((query @ w_q.T).unsqueeze(-2) + keys @ w_k.T)   # (B, S, H)
    scores = e @ v_a                                                 # (B, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = safe_softmax(scores)
    return (w.unsqueeze(-2) @ values).squeeze(-2), w


add_mask = torch.rand(3, 5) > 0.3
add_mask[:, 0] = True
add_mask[2, :] = False                                               # batch entry 2 sees nothing
add_in = [rn(3, 4), rn(3, 5, 6), rn(3, 5, 2), rn(7, 4) * 0.5, rn(7, 6) * 0.5, rn(7)]
for name, mask in [("add", None), ("add_masked", add_mask)]:
    (ctx, w), gout, grads = with_grads(lambda *a: additive(*a, mask), add_in)
    for n, t in zip(["query", "keys", "values", "wq", "wk", "va"], add_in):
        ref.add(f"{name}_{n}", t)
    ref.add(f"{name}_ctx", ctx)
    ref.add(f"{name}_weights", w)
    ref.add(f"{name}_gout", gout)
    for n, g in zip(["gquery", "gkeys", "gvalues", "gwq", "gwk", "gva"], grads):
        ref.add(f"{name}_{n}", g)
    if mask is not None:
        ref.add(f"{name}_mask", mask)


# ---- cosine-similarity attention -------------------------------------------------------------------
def cosine(query, keys, values, temperature, mask=None, eps=1e-8):
    qn = query / query.norm(dim=-1, keepdim=True).clamp_min(eps)
    kn = keys / keys.norm(dim=-1, keepdim=True).clamp_min(eps)
    scores = (qn @ kn.transpose(-2, -1)) / temperature
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = safe_softmax(scores)
    return w @ values, w


cos_in = [rn(2, 3, 4), rn(2, 5, 4), rn(2, 5, 6)]
# Sanity: the scores are F.cosine_similarity's.
assert torch.allclose(cosine(*cos_in, 1.0)[1],
                      torch.softmax(F.cosine_similarity(cos_in[0].unsqueeze(-2), cos_in[1].unsqueeze(-3), dim=-1), -1))
cos_mask = torch.rand(3, 5) > 0.4
cos_mask[:, 1] = True
cos_mask[1, :] = False                                               # query 1 sees nothing
for name, temp, mask in [("cos", 0.5, None), ("cos_masked", 0.2, cos_mask)]:
    (out, w), gout, grads = with_grads(lambda *a: cosine(*a, temp, mask), cos_in)
    for n, t in zip(["query", "keys", "values"], cos_in):
        ref.add(f"{name}_{n}", t)
    ref.add(f"{name}_out", out)
    ref.add(f"{name}_weights", w)
    ref.add(f"{name}_gout", gout)
    for n, g in zip(["gquery", "gkeys", "gvalues"], grads):
        ref.add(f"{name}_{n}", g)
    if mask is not None:
        ref.add(f"{name}_mask", mask)

ref.write()
