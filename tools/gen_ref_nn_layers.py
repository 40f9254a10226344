"""Reference values for nn/layers: Linear, Embedding, LayerNorm with fixed weights -- outputs and the
gradients of the input and of every parameter for loss = sum(y * R) with a fixed projection R."""
import torch
from refgen import Ref

torch.manual_seed(0)
ref = Ref("nn_layers")


def record(prefix, module, x, input_grad=True):
    y = module(x)
    R = torch.randn(y.shape, dtype=y.dtype)
    (y * R).sum().backward()
    ref.add(f"{prefix}_y", y)
    ref.add(f"{prefix}_R", R)
    if input_grad:
        ref.add(f"{prefix}_dx", x.grad)
    for name, p in module.named_parameters():
        ref.add(f"{prefix}_{name}", p.detach())
        ref.add(f"{prefix}_d{name}", p.grad)


# Linear(5, 3) on a (2, 4, 5) input (batched leading dims)
lin = torch.nn.Linear(5, 3).double()
x = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
ref.add("linear_x", x.detach())
record("linear", lin, x)

# Linear without bias
lin_nb = torch.nn.Linear(4, 2, bias=False).double()
x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
ref.add("linear_nobias_x", x.detach())
record("linear_nobias", lin_nb, x)

# Embedding(10, 4, padding_idx=1) on (2, 3) indices that include the padding index and repeats
emb = torch.nn.Embedding(10, 4, padding_idx=1).double()
idx = torch.tensor([[1, 3, 3], [9, 0, 1]])
ref.add("embedding_idx", idx)
record("embedding", emb, idx, input_grad=False)

# LayerNorm((3, 4)) on (2, 3, 4), weight/bias not trivial
ln = torch.nn.LayerNorm([3, 4]).double()
with torch.no_grad():
    ln.weight.copy_(torch.randn(3, 4))
    ln.bias.copy_(torch.randn(3, 4))
x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
ref.add("layernorm_x", x.detach())
record("layernorm", ln, x)

ref.write()
