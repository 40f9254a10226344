"""tools/gen_ref_losses.py -- PyTorch reference values for the losses (tests/ops/test_losses.cpp):
cross_entropy and nll_loss over every option combination and reduction, mse_loss,
binary_cross_entropy_with_logits; forward values and input gradients of sum(loss)."""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(0)
ref = Ref("losses")
R = ["none", "mean", "sum"]


def grad_of(fn, x):
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    y.sum().backward()
    return y.detach(), x.grad


# ---- cross_entropy / nll_loss -----------------------------------------------------------------
logits = torch.randn(4, 5, dtype=torch.float64) * 2
target = torch.tensor([1, 0, 4, 2])
target_ign = torch.tensor([1, -100, 4, -100])
weight = torch.rand(5, dtype=torch.float64) + 0.5
logits_nd = torch.randn(2, 4, 3, dtype=torch.float64)
target_nd = torch.tensor([[0, 3, -100], [2, 1, 1]])
logits_vec = torch.randn(5, dtype=torch.float64)
target_vec = torch.tensor(3)
for n, t in [("logits", logits), ("target", target), ("target_ign", target_ign), ("weight", weight),
             ("logits_nd", logits_nd), ("target_nd", target_nd), ("logits_vec", logits_vec),
             ("target_vec", target_vec)]:
    ref.add(f"ce_{n}", t)

# variant -> (logits, target, kwargs); the C++ test builds the same options for each name.
variants = {
    "plain": (logits, target, {}),
    "weight": (logits, target, {"weight": weight}),
    "ignore": (logits, target_ign, {}),
    "ignore1": (logits, target, {"ignore_index": 1}),
    "smooth": (logits, target, {"label_smoothing": 0.1}),
    "smooth_weight_ignore": (logits, target_ign, {"weight": weight, "label_smoothing": 0.1}),
    "nd": (logits_nd, target_nd, {}),
    "nd_all": (logits_nd, target_nd, {"weight": weight[:4], "label_smoothing": 0.1}),
    "vec": (logits_vec, target_vec, {}),
}
for name, (x, t, kw) in variants.items():
    for r in R:
        y, g = grad_of(lambda x: F.cross_entropy(x, t, reduction=r, **kw), x)
        ref.add(f"ce_{name}_{r}", y)
        ref.add(f"ce_{name}_{r}_grad", g)
        if "label_smoothing" not in kw:
            y, g = grad_of(lambda x: F.nll_loss(x, t, reduction=r, **kw), torch.log_softmax(x, dim=0 if x.dim() == 1 else 1))
            ref.add(f"nll_{name}_{r}", y)
            ref.add(f"nll_{name}_{r}_grad", g)

huge = torch.tensor([[1000.0, -1000.0, 5.0], [999.0, 0.0, -3e4]], dtype=torch.float64)
ref.add("ce_huge_logits", huge)
ref.add("ce_huge_none", F.cross_entropy(huge, torch.tensor([1, 0]), reduction="none"))
_, g = grad_of(lambda x: F.cross_entropy(x, torch.tensor([1, 0]), reduction="sum"), huge)
ref.add("ce_huge_sum_grad", g)

# every target ignored: the mean is 0 / 0 = nan, and the gradient is zero
_, g = grad_of(lambda x: F.cross_entropy(x, torch.tensor([-100, -100, -100, -100])), logits)
ref.add("ce_all_ignored_mean", F.cross_entropy(logits, torch.tensor([-100, -100, -100, -100])))
ref.add("ce_all_ignored_mean_grad", g)

# ---- mse_loss ------------------------------------------------------------------------------------
a = torch.randn(3, 4, dtype=torch.float64)
b = torch.randn(3, 4, dtype=torch.float64)
b_row = torch.randn(4, dtype=torch.float64)
ref.add("mse_a", a)
ref.add("mse_b", b)
ref.add("mse_b_row", b_row)
for r in R:
    ya, ga = grad_of(lambda x: F.mse_loss(x, b, reduction=r), a)
    _, gb = grad_of(lambda y: F.mse_loss(a, y, reduction=r), b)
    ref.add(f"mse_{r}", ya)
    ref.add(f"mse_{r}_grad_a", ga)
    ref.add(f"mse_{r}_grad_b", gb)
ref.add("mse_bcast_mean", F.mse_loss(a, b_row.expand(3, 4), reduction="mean"))
_, g = grad_of(lambda y: F.mse_loss(a, y.expand(3, 4), reduction="mean"), b_row)
ref.add("mse_bcast_mean_grad_b", g)

# ---- binary_cross_entropy_with_logits -------------------------------------------------------------
x = torch.randn(3, 4, dtype=torch.float64) * 3
x[0, 0] = 40.0   # far in the tails: the stable formulation must not overflow
x[0, 1] = -40.0
t = torch.rand(3, 4, dtype=torch.float64)
w = torch.rand(3, 4, dtype=torch.float64) + 0.5
pw = torch.rand(4, dtype=torch.float64) * 2 + 0.5
for n, v in [("x", x), ("t", t), ("w", w), ("pw", pw)]:
    ref.add(f"bce_{n}", v)
bvariants = {"plain": {}, "weight": {"weight": w}, "pos": {"pos_weight": pw}, "both": {"weight": w, "pos_weight": pw}}
for name, kw in bvariants.items():
    for r in R:
        y, gx = grad_of(lambda xx: F.binary_cross_entropy_with_logits(xx, t, reduction=r, **kw), x)
        _, gt = grad_of(lambda tt: F.binary_cross_entropy_with_logits(x, tt, reduction=r, **kw), t)
        ref.add(f"bce_{name}_{r}", y)
        ref.add(f"bce_{name}_{r}_grad_x", gx)
        ref.add(f"bce_{name}_{r}_grad_t", gt)

ref.write()
