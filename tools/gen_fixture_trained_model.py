"""tools/gen_fixture_trained_model.py -- a small model trained in PyTorch and saved with safetensors, for
tests/nn/test_trained_model.cpp (which builds the same model from attograd modules with the same
names, loads the file unchanged and reproduces PyTorch's outputs). Run with /usr/bin/python3
(PyTorch 1.13). The other direction (a model trained and saved by attograd, loaded here) is
tools/check_torch_loads.py.

The model mixes module types under PyTorch's own names:
    embed   Embedding(50, 16)
    encoder TransformerEncoderLayer(16, nhead 2, dim_feedforward 32, dropout 0, batch_first)
    lstm    LSTM(16, 24, batch_first)
    head    Linear(24, 3)            -- on the LSTM's last time step
trained 50 Adam steps (lr 0.01) to classify random token sequences by their last token mod 3.

Writes (safetensors written by hand when the `safetensors` package is missing, as Debian has none;
see tools/gen_safetensors_fixtures.py):
    tests/data/trained_model.safetensors     the state_dict, exactly as model.state_dict() names it
    tests/data/trained_model_io.safetensors  "input" (4, 10) int64 tokens, PyTorch's eval-mode
                                             "output" (4, 3) float32 and "output_f64" (4, 3): the
                                             same weights run in float64
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors_fixtures import DATA, read_strict, st_torch, write_by_hand  # noqa: E402

VOCAB, SEQ, CLASSES = 50, 10, 3


class Twin(nn.Module):
    """The model; attograd's twin is TrainedTwin in tests/nn/test_trained_model.cpp."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 16)
        self.encoder = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.lstm = nn.LSTM(16, 24, batch_first=True)
        self.head = nn.Linear(24, CLASSES)

    def forward(self, tokens):
        out, _ = self.lstm(self.encoder(self.embed(tokens)))
        return self.head(out[:, -1])


def batch(gen, n):
    tokens = torch.randint(0, VOCAB, (n, SEQ), generator=gen)
    return tokens, tokens[:, -1] % CLASSES


def eval_output(model, tokens, dtype):
    """Eval-mode logits in `dtype`. Grad mode stays on so that PyTorch takes the plain math path, not
    the fused inference kernel of TransformerEncoderLayer (used only without grad)."""
    m = Twin()
    m.load_state_dict(model.state_dict())
    m = m.to(dtype).eval()
    return m(tokens).detach()


def save(name, tensors, metadata):
    path = os.path.join(DATA, name)
    if st_torch is not None:
        st_torch.save_file(tensors, path, metadata=metadata)
    else:
        write_by_hand(path, tensors, metadata)
    read_strict(path)   # what we wrote passes the strict reader
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    torch.manual_seed(0)
    model = Twin()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    model.train()
    for step in range(50):
        tokens, labels = batch(gen, 32)
        loss = nn.functional.cross_entropy(model(tokens), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (0, 49):
            print(f"step {step}: loss {loss.item():.4f}")

    tokens, _ = batch(gen, 4)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save("trained_model.safetensors", state,
         {"format": "pt", "model": "Embedding(50,16) TransformerEncoderLayer(16,2,32) LSTM(16,24) Linear(24,3)",
          "trained": "50 Adam steps, lr 0.01, torch " + torch.__version__})
    save("trained_model_io.safetensors",
         {"input": tokens, "output": eval_output(model, tokens, torch.float32),
          "output_f64": eval_output(model, tokens, torch.float64)},
         {"format": "pt"})


if __name__ == "__main__":
    main()
