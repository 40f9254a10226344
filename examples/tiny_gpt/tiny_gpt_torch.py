#!/usr/bin/python3
# examples/tiny_gpt/tiny_gpt_torch.py -- the PyTorch twin of tiny_gpt (main.cpp, gpt.cpp): the same
# GPT (nanoGPT's model.py, trimmed to what is used), the same data split, hyper-parameters, schedule
# and evaluation, so the two wall times can be set side by side on one machine.
#
# PyTorch 1.13 has no F.scaled_dot_product_attention, so attention is written out with a causal
# mask (nanoGPT's own fallback path). Random numbers differ from attograd's (mt19937 vs Philox), so
# the losses agree statistically, not bitwise.
#
#   /usr/bin/python3 examples/tiny_gpt/tiny_gpt_torch.py [--iters 2000] [--threads 2]
#
# --nanogpt-rng draws every batch, the evaluation ones included, from the global generator in the
# order nanoGPT's train.py draws them; with --seed 1337 that is nanoGPT's own run of its README's CPU
# command (same initial weights, batches and evaluation windows). --dump FILE then writes the
# initial weights and every window start it drew, for `tiny_gpt --replay FILE`:
#
#   /usr/bin/python3 examples/tiny_gpt/tiny_gpt_torch.py --nanogpt-rng --seed 1337 --dump runs/nanogpt.safetensors
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch 1.13's nn.LayerNorm always has one)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.c_attn = nn.Linear(a.n_embd, 3 * a.n_embd, bias=a.bias)
        self.c_proj = nn.Linear(a.n_embd, a.n_embd, bias=a.bias)
        self.resid_dropout = nn.Dropout(a.dropout)
        self.attn_dropout = nn.Dropout(a.dropout)
        self.n_head = a.n_head
        self.register_buffer("mask", torch.tril(torch.ones(a.block, a.block)).view(1, 1, a.block, a.block))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.c_fc = nn.Linear(a.n_embd, 4 * a.n_embd, bias=a.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * a.n_embd, a.n_embd, bias=a.bias)
        self.dropout = nn.Dropout(a.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln_1 = LayerNorm(a.n_embd, a.bias)
        self.attn = CausalSelfAttention(a)
        self.ln_2 = LayerNorm(a.n_embd, a.bias)
        self.mlp = MLP(a)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, a, vocab_size):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, a.n_embd),
            wpe=nn.Embedding(a.block, a.n_embd),
            drop=nn.Dropout(a.dropout),
            h=nn.ModuleList([Block(a) for _ in range(a.n_layer)]),
            ln_f=LayerNorm(a.n_embd, a.bias),
        ))
        self.lm_head = nn.Linear(a.n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight   # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * a.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx):
        T = idx.size(1)
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def save_safetensors(path, tensors):
    """The safetensors format (what nn/safetensors.h reads): u64 header size, JSON header, raw bytes."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "data", "tinyshakespeare", "input.txt"))
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--n-layer", dest="n_layer", type=int, default=4)
    ap.add_argument("--n-head", dest="n_head", type=int, default=4)
    ap.add_argument("--n-embd", dest="n_embd", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--bias", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", dest="min_lr", type=float, default=1e-4)
    ap.add_argument("--warmup-iters", dest="warmup_iters", type=int, default=100)
    ap.add_argument("--lr-decay-iters", dest="lr_decay_iters", type=int, default=2000)
    ap.add_argument("--weight-decay", dest="weight_decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", dest="grad_clip", type=float, default=1.0)
    ap.add_argument("--eval-interval", dest="eval_interval", type=int, default=250)
    ap.add_argument("--eval-iters", dest="eval_iters", type=int, default=20)
    ap.add_argument("--final-eval-iters", dest="final_eval_iters", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--nanogpt-rng", dest="nanogpt_rng", action="store_true",
                    help="draw all batches from the global generator in nanoGPT's order (--seed 1337: nanoGPT's run)")
    ap.add_argument("--dump", help="with --nanogpt-rng: write the initial weights and all window starts here")
    a = ap.parse_args()
    if a.dump and not a.nanogpt_rng:
        ap.error("--dump records nanoGPT's windows: it needs --nanogpt-rng")

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    with open(a.data) as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]

    def get_batch(split, generator=None, record=None):
        ix = torch.randint(len(split) - a.block, (a.batch,), generator=generator)
        if record is not None:
            record.append(ix)
        x = torch.stack([split[i:i + a.block] for i in ix])
        y = torch.stack([split[i + 1:i + 1 + a.block] for i in ix])
        return x, y

    model = GPT(a, len(chars))
    # For --dump; named_parameters lists the tied lm_head.weight once, as transformer.wte.weight.
    initial = {k: p.detach().clone() for k, p in model.named_parameters()} if a.dump else None
    print(f"model: {sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel() :,} parameters"
          f" (without position embeddings), torch {torch.__version__}, {torch.get_num_threads()} threads")
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": a.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99))

    def get_lr(it):
        if it < a.warmup_iters:
            return a.lr * (it + 1) / (a.warmup_iters + 1)
        if it > a.lr_decay_iters:
            return a.min_lr
        ratio = (it - a.warmup_iters) / (a.lr_decay_iters - a.warmup_iters)
        return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - a.min_lr)

    # nanoGPT's estimate_loss. By default each split's windows come from a generator of their own,
    # seeded the same every time; with nanogpt=True from the global generator, as nanoGPT does. The
    # window starts of each split are appended to `starts` (for --dump).
    eval_starts, final_starts = [], []

    @torch.no_grad()
    def estimate_loss(iters, nanogpt=False, starts=None):
        model.eval()
        out = {}
        for name, split in (("train", train), ("val", val)):
            gen = None if nanogpt else torch.Generator().manual_seed(a.seed + 1)
            record = []
            losses = [F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1)).item()
                      for x, y in (get_batch(split, gen, record) for _ in range(iters))]
            if starts is not None:
                starts.append(torch.stack(record))
            mean = sum(losses) / len(losses)
            stddev = math.sqrt(sum((l - mean) ** 2 for l in losses) / (len(losses) - 1)) if len(losses) > 1 else 0.0
            out[name], out[name + "_stddev"] = mean, stddev
        model.train()
        return out

    train_starts = []
    start = time.time()
    eval_seconds = 0.0
    x, y = get_batch(train, record=train_starts)   # nanoGPT draws the first batch before its loop
    for it in range(a.iters):
        if a.eval_interval > 0 and it % a.eval_interval == 0:
            t = time.time()
            losses = estimate_loss(a.eval_iters, a.nanogpt_rng, eval_starts)
            eval_seconds += time.time() - t
            print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}", flush=True)
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        loss = F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1))
        x, y = get_batch(train, record=train_starts)   # the next batch (nanoGPT's prefetch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if a.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        optimizer.step()
    train_seconds = time.time() - start - eval_seconds
    print(f"iter {a.iters - 1}: loss {loss.item():.4f} (the last training batch)")
    t = time.time()
    if a.nanogpt_rng:   # the line nanoGPT prints at the end: its estimate from the global generator
        losses = estimate_loss(a.eval_iters, True, eval_starts)
        print(f"step {a.iters}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} "
              f"(nanoGPT's estimate: {a.eval_iters} batches from the global generator)")
    losses = estimate_loss(a.final_eval_iters, starts=final_starts)
    eval_seconds += time.time() - t
    print(f"step {a.iters}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} "
          f"({a.final_eval_iters} batches of {a.batch}x{a.block} per split)")
    sd = losses["val_stddev"]
    print(f"standard error of the val loss: {sd / math.sqrt(a.final_eval_iters):.4f} over these "
          f"{a.final_eval_iters} batches; {sd / math.sqrt(a.eval_iters):.4f} for an estimate from {a.eval_iters}")
    print(f"time: {train_seconds:.1f} s training + {eval_seconds:.1f} s evaluating")
    if a.dump:
        n_evals = len(eval_starts) // 2
        save_safetensors(a.dump, {**initial,
                                  "replay.train_starts": torch.stack(train_starts),
                                  "replay.eval_starts": torch.stack(eval_starts).view(n_evals, 2, a.eval_iters, a.batch),
                                  "replay.final_eval_starts": torch.stack(final_starts)})
        print(f"wrote {a.dump}: the initial weights, the window starts of {len(train_starts)} training batches, "
              f"{n_evals} evaluations and the final {a.final_eval_iters}-batch one")


if __name__ == "__main__":
    main()
