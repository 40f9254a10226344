"""benchmarks/gpu_models_torch.py -- twin of benchmarks/gpu_models.cpp: the same training steps, shapes,
modules and optimizers in PyTorch eager mode (2.x with CUDA on the GPU machine, no torch.compile);
the model classes are models_torch.py's (the twins of bench_models.h). float32, TF32 off.

    gpu_models_torch.py --model lstm|mha|gpt [--device cuda|cuda:N|cpu] [--steps 20] [--small]

  lstm  Embedding(65, 128) -> LSTM(128, 512, 2 layers) -> Linear(512, 65) -> cross-entropy -> Adam;
        batch 256, seq 128 (nn.LSTM runs cuDNN's fused LSTM)
  mha   nn.MultiheadAttention forward + backward of out.sum(): batch 32, seq 1024, embed 1024, 16
        heads, causal
  gpt   nanoGPT's shakespeare-char GPU configuration: 6 layers, 6 heads, n_embd 384, block 256,
        batch 64, vocab 65, dropout 0.2, gradient norm clipped at 1.0, AdamW (1e-3, (0.9, 0.99), 0.1)

Causal attention: nn.MultiheadAttention wants the mask tensor; PyTorch 2.x also takes is_causal=True
as a hint that the mask is the causal one, and then runs its fused causal attention kernel (what a
PyTorch 2.x user gets). The line says attn=causal-hint when the hint is given, attn=mask otherwise
(PyTorch 1.x). Each step is timed between two synchronizations; 3 warm-up steps, then the median of
--steps. When CUDA is not available the program says so on a "#" line and runs on the CPU instead
(device=cpu): a check that it runs, not a measurement.
"""
import argparse
import inspect
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_torch import CharLSTM, TinyGPT, causal_mask, gpu_device, median  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, choices=["lstm", "mha", "gpt"])
p.add_argument("--device", default="cuda")
p.add_argument("--steps", type=int, default=20)
p.add_argument("--small", action="store_true", help="tiny shapes: a check of this program (shape=small)")
args = p.parse_args()

dev, label, sync = gpu_device(args.device, "gpu_models_torch.py")
torch.manual_seed(0)
small = args.small
# nn.MultiheadAttention.forward takes is_causal from PyTorch 2.0, nn.TransformerEncoder.forward from 2.1.
mha_hint = "is_causal" in inspect.signature(nn.MultiheadAttention.forward).parameters
encoder_hint = "is_causal" in inspect.signature(nn.TransformerEncoder.forward).parameters


def tokens(vocab, shape):
    return torch.randint(vocab, shape).to(dev)


def lstm_step():
    vocab, batch, seq = 65, 4 if small else 256, 8 if small else 128
    model = CharLSTM(vocab, 16 if small else 128, 32 if small else 512, num_layers=2).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = tokens(vocab, (batch, seq)), tokens(vocab, (batch, seq))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(batch * seq, vocab), y.reshape(batch * seq)).backward()
        opt.step()
    return step, "-"


def mha_step():
    batch, seq, embed, heads = (2, 16, 64, 4) if small else (32, 1024, 1024, 16)
    mha = nn.MultiheadAttention(embed, heads, batch_first=True).to(dev)
    x = torch.randn(batch, seq, embed).to(dev).requires_grad_()
    mask = causal_mask(seq).to(dev)
    hint = {"is_causal": True} if mha_hint else {}

    def step():
        mha.zero_grad()
        x.grad = None
        out, _ = mha(x, x, x, need_weights=False, attn_mask=mask, **hint)
        out.sum().backward()
    return step, "causal-hint" if mha_hint else "mask"


def gpt_step():
    vocab, batch, block = 65, 2 if small else 64, 16 if small else 256
    model = TinyGPT(vocab, block, 48 if small else 384, 6, 2 if small else 6, dropout=0.2,
                    causal_hint=encoder_hint).to(dev)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    x, y = tokens(vocab, (batch, block)), tokens(vocab, (batch, block))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(batch * block, vocab), y.reshape(batch * block)).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return step, "causal-hint" if encoder_hint else "mask"


step, attn = {"lstm": lstm_step, "mha": mha_step, "gpt": gpt_step}[args.model]()
for _ in range(3):
    step()
times = []
for _ in range(args.steps):
    sync()
    s = time.perf_counter()
    step()
    sync()
    times.append(time.perf_counter() - s)
peak_mb = torch.cuda.max_memory_allocated(dev) / 2 ** 20 if dev.type == "cuda" else 0.0
print(f"RESULT bench=gpu_models impl=torch device={label} model={args.model} shape={'small' if small else 'full'} "
      f"steps={args.steps} ms={median(times) * 1e3:.3f} ms_min={min(times) * 1e3:.3f} peak_mem_mb={peak_mb:.1f} "
      f"attn={attn} torch={torch.__version__}", flush=True)
