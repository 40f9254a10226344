"""benchmarks/models_torch.py -- twin of benchmarks/models.cpp: the same four training steps (char-LSTM,
multi-head attention forward + backward, tiny GPT, sentiment classifier) with the same shapes, modules
and optimizers in PyTorch; a few warm-up steps, then the median of --steps timed steps (wall-clock and
CPU time), and the peak RSS of this process. Run with /usr/bin/python3 (PyTorch 1.13) by
benchmarks/run.sh, once per model and thread configuration:

    models_torch.py --model lstm|mha|gpt|sentiment --threads T --config NAME [--steps 20]

The CharLSTM and TinyGPT classes are imported by gpu_models_torch.py (the GPU twin), so the command
line is read only when this file runs as a program.
"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed_dim, hidden, num_layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


def lstm_step():
    vocab, batch, seq = 65, 32, 64
    model = CharLSTM(vocab, 64, 256)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.randint(vocab, (batch, seq)), torch.randint(vocab, (batch, seq))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(batch * seq, vocab), y.reshape(batch * seq)).backward()
        opt.step()
    return step


def causal_mask(n):
    return torch.ones(n, n, dtype=torch.bool).triu(1)   # true = may NOT attend (nn.MultiheadAttention)


def mha_step():
    batch, seq, embed, heads = 16, 128, 256, 8
    mha = nn.MultiheadAttention(embed, heads, batch_first=True)
    x = torch.randn(batch, seq, embed, requires_grad=True)
    mask = causal_mask(seq)   # PyTorch 1.13 has no is_causal

    def step():
        mha.zero_grad()
        x.grad = None
        out, _ = mha(x, x, x, need_weights=False, attn_mask=mask)
        out.sum().backward()
    return step


class TinyGPT(nn.Module):
    """benchmarks/bench_models.h's TinyGPT. causal_hint: also pass is_causal=True with the mask
    (PyTorch 2.x; the same result, computed by a causal attention kernel)."""

    def __init__(self, vocab, block, n_embd, n_head, n_layer, dropout=0.0, causal_hint=False):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, n_embd)
        self.pos_emb = nn.Embedding(block, n_embd)
        self.drop = nn.Dropout(dropout) if dropout > 0 else None   # nanoGPT's transformer.drop
        layer = nn.TransformerEncoderLayer(n_embd, n_head, 4 * n_embd, dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(n_embd)
        self.register_buffer("causal_mask", causal_mask(block))
        self.register_buffer("positions", torch.arange(block))
        self.causal_hint = causal_hint

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb(self.positions)
        if self.drop is not None:
            x = self.drop(x)
        hint = {"is_causal": True} if self.causal_hint else {}
        x = self.ln_f(self.blocks(x, self.causal_mask, **hint))
        return F.linear(x, self.tok_emb.weight)   # the head shares the token embedding's weights


def gpt_step():
    vocab, batch, block = 65, 12, 64
    model = TinyGPT(vocab, block, 128, 4, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x, y = torch.randint(vocab, (batch, block)), torch.randint(vocab, (batch, block))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(batch * block, vocab), y.reshape(batch * block)).backward()
        opt.step()
    return step


class SentimentNet(nn.Module):
    def __init__(self, vocab, dim, heads, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens):
        x = self.embed(tokens)
        context, _ = self.attn(x, x, x, need_weights=False)
        return self.head(context.mean(1))


def sentiment_step():
    vocab, batch, seq = 5000, 64, 32
    model = SentimentNet(vocab, 64, 4, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randint(vocab, (batch, seq)), torch.randint(2, (batch,))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def gpu_device(name, program):
    """The GPU twins' device: (device, label, sync). Falls back to the CPU, saying so, when PyTorch
    has no CUDA; TF32 off, as attograd's default."""
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(f"# {program}: CUDA is not available (torch {torch.__version__}): falling back to the CPU, "
              "device=cpu; these are not GPU numbers", flush=True)
        dev = torch.device("cpu")
    torch.set_float32_matmul_precision("highest")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return dev, torch.cuda.get_device_name(dev).replace(" ", "_"), lambda: torch.cuda.synchronize(dev)
    return dev, "cpu", lambda: None


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, choices=["lstm", "mha", "gpt", "sentiment"])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--label-threads", type=int, default=None, help="threads to report (default: --threads)")
    p.add_argument("--config", required=True)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    step = {"lstm": lstm_step, "mha": mha_step, "gpt": gpt_step, "sentiment": sentiment_step}[args.model]()
    for _ in range(3):
        step()
    times, cpu_times = [], []
    for _ in range(args.steps):
        s, c = time.perf_counter(), time.process_time()   # wall-clock, and CPU time of all threads
        step()
        cpu_times.append(time.process_time() - c)
        times.append(time.perf_counter() - s)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux
    threads = args.label_threads or args.threads
    print(f"RESULT bench=models impl=torch model={args.model} config={args.config} threads={threads} "
          f"ms={median(times) * 1e3:.3f} ms_min={min(times) * 1e3:.3f} cpu_ms={median(cpu_times) * 1e3:.3f} "
          f"peak_rss_mb={peak_mb:.1f}")


if __name__ == "__main__":
    main()
