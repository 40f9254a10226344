"""Reference values for nn::TransformerEncoderLayer / TransformerEncoder (nn/attention.h) from
PyTorch 1.13 in training mode with dropout 0: a 2-layer encoder with a final LayerNorm, post-norm
(relu) and pre-norm (gelu, batch_first), with a causal float mask and a bool key padding mask.
Every parameter is perturbed so the layers differ; loss = sum(y * R). The parameters and their
gradients are stored flattened and concatenated in named_parameters() order (<prefix>_params,
<prefix>_dparams), with each one's element count (<prefix>_numels)."""
import torch
from refgen import Ref

torch.manual_seed(0)
ref = Ref("transformer")
D = torch.float64
E, H, FF, S, N = 8, 2, 16, 5, 3

for prefix, norm_first, act, batch_first in (("post", False, "relu", False), ("pre", True, "gelu", True)):
    layer = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, activation=act,
                                             norm_first=norm_first, batch_first=batch_first)
    enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(E)).double()
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn((N, S, E) if batch_first else (S, N, E), dtype=D, requires_grad=True)
    mask = torch.triu(torch.full((S, S), float("-inf"), dtype=D), diagonal=1)
    kpm = torch.zeros(N, S, dtype=torch.bool)
    kpm[0, 4] = True
    kpm[2, 3:] = True
    y = enc(x, mask=mask, src_key_padding_mask=kpm)
    R = torch.randn(y.shape, dtype=D)
    (y * R).sum().backward()
    for name, t in (("x", x.detach()), ("mask", mask), ("kpm", kpm), ("y", y), ("R", R), ("dx", x.grad)):
        ref.add(f"{prefix}_{name}", t)
    params = list(enc.parameters())
    ref.add(f"{prefix}_params", torch.cat([p.detach().reshape(-1) for p in params]))
    ref.add(f"{prefix}_dparams", torch.cat([p.grad.reshape(-1) for p in params]))
    ref.add(f"{prefix}_numels", torch.tensor([p.numel() for p in params]))

ref.write()
