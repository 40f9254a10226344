"""Reference values for nn::MultiheadAttention (nn/attention.h) from PyTorch 1.13's
nn.MultiheadAttention in training mode with dropout 0 (its reference path, not the fast path).
For each case: inputs, masks, parameters, output, weights, and the gradients of every input and
parameter for loss = sum(out * R) + sum(weights * Rw) with fixed projections R, Rw."""
import torch
from refgen import Ref

torch.manual_seed(0)
ref = Ref("mha")
D = torch.float64


def record(prefix, mha, inputs, **kw):
    """inputs: dict name -> tensor (requires_grad); the first three are query, key, value."""
    q, k, v = (inputs[n] for n in ("query", "key", "value"))
    out, w = mha(q, k, v, **kw)
    R = torch.randn(out.shape, dtype=D)
    loss = (out * R).sum()
    ref.add(f"{prefix}_out", out)
    ref.add(f"{prefix}_R", R)
    if w is not None:
        Rw = torch.randn(w.shape, dtype=D)
        ref.add(f"{prefix}_weights", w)
        ref.add(f"{prefix}_Rw", Rw)
        loss = loss + (w * Rw).sum()
    loss.backward()
    for name, t in inputs.items():
        ref.add(f"{prefix}_d{name}", t.grad)
    for name, p in mha.named_parameters():
        key = name.replace(".", "_")
        ref.add(f"{prefix}_{key}", p.detach())
        ref.add(f"{prefix}_d{key}", p.grad)


def leaf(*shape):
    return torch.randn(*shape, dtype=D, requires_grad=True)


E, H, L, S, N = 8, 2, 4, 5, 3

# A. self-attention (q = k = v = x, seq-first), key_padding_mask + causal bool attn_mask, averaged weights
mha = torch.nn.MultiheadAttention(E, H).double()
with torch.no_grad():
    mha.in_proj_bias.normal_()
    mha.out_proj.bias.normal_()
x = leaf(S, N, E)
kpm = torch.zeros(N, S, dtype=torch.bool)
kpm[0, 4] = True
kpm[2, 3:] = True
causal = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)   # True = not allowed
ref.add("self_x", x.detach())
ref.add("self_kpm", kpm)
ref.add("self_mask", causal)
out, w = mha(x, x, x, key_padding_mask=kpm, attn_mask=causal)
R, Rw = torch.randn(out.shape, dtype=D), torch.randn(w.shape, dtype=D)
((out * R).sum() + (w * Rw).sum()).backward()
for name, t in (("out", out), ("weights", w), ("R", R), ("Rw", Rw), ("dx", x.grad)):
    ref.add(f"self_{name}", t)
for name, p in mha.named_parameters():
    ref.add(f"self_{name.replace('.', '_')}", p.detach())
    ref.add(f"self_d{name.replace('.', '_')}", p.grad)

# B. cross-attention with kdim, vdim != embed_dim (separate q/k/v weights), 3-D float attn_mask,
#    weights per head (average_attn_weights=False)
mha = torch.nn.MultiheadAttention(E, H, kdim=6, vdim=7).double()
with torch.no_grad():
    mha.in_proj_bias.normal_()
    mha.out_proj.bias.normal_()
inputs = {"query": leaf(L, N, E), "key": leaf(S, N, 6), "value": leaf(S, N, 7)}
fmask = torch.randn(N * H, L, S, dtype=D)
for n, t in inputs.items():
    ref.add(f"cross_{n}", t.detach())
ref.add("cross_mask", fmask)
record("cross", mha, inputs, attn_mask=fmask, average_attn_weights=False)

# C. batch_first, bias=False, distinct key/value of embed_dim (packed in_proj_weight), 2-D float
#    attn_mask, bool key_padding_mask, need_weights=False
mha = torch.nn.MultiheadAttention(E, H, bias=False, batch_first=True).double()
inputs = {"query": leaf(N, L, E), "key": leaf(N, S, E), "value": leaf(N, S, E)}
fmask = torch.randn(L, S, dtype=D)
kpm = torch.zeros(N, S, dtype=torch.bool)
kpm[1, 0] = True
for n, t in inputs.items():
    ref.add(f"bf_{n}", t.detach())
ref.add("bf_mask", fmask)
ref.add("bf_kpm", kpm)
record("bf", mha, inputs, attn_mask=fmask, key_padding_mask=kpm, need_weights=False)

# D. a fully masked row: every key of batch 1 padded. PyTorch 1.13 gives NaN there (weights and
#    the output rows of that batch element); other batch elements are unaffected.
mha = torch.nn.MultiheadAttention(E, H).double()
x = torch.randn(S, N, E, dtype=D)
kpm = torch.zeros(N, S, dtype=torch.bool)
kpm[1, :] = True
out, w = mha(x, x, x, key_padding_mask=kpm)
ref.add("dead_x", x)
ref.add("dead_kpm", kpm)
ref.add("dead_out", out)
ref.add("dead_weights", w)
for name, p in mha.named_parameters():
    ref.add(f"dead_{name.replace('.', '_')}", p.detach())

ref.write()
