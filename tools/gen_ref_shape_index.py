"""tools/gen_ref_shape_index.py -- PyTorch reference values for the shape and indexing ops
(tests/ops/test_shape_ops.cpp, tests/ops/test_index.cpp): cat, stack, split, chunk, index_select,
gather, scatter_add, embedding (with padding_idx), one_hot; gradients where they are not copies.
Also the view ops of autograd/functions/view.cpp (tests/tensor/test_views.cpp)."""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(0)
ref = Ref("shape_index")

# ---- cat / stack / split / chunk ------------------------------------------------------------------
a = torch.randn(2, 3, dtype=torch.float64)
b = torch.randn(2, 1, dtype=torch.float64)
c = torch.randn(1, 3, dtype=torch.float64)
for n, v in [("a", a), ("b", b), ("c", c)]:
    ref.add(f"cat_{n}", v)
ref.add("cat_ab_dim1", torch.cat([a, b], 1))
ref.add("cat_aca_dim0", torch.cat([a, c, a], 0))
ref.add("cat_ab_dimneg1", torch.cat([a, b], -1))
ref.add("stack_aa_dim0", torch.stack([a, a * 2], 0))
ref.add("stack_aa_dim1", torch.stack([a, a * 2], 1))
ref.add("stack_aa_dimneg1", torch.stack([a, a * 2], -1))
s = torch.randn(7, 2, dtype=torch.float64)
ref.add("split_x", s)
for i, p in enumerate(torch.split(s, 3, 0)):
    ref.add(f"split3_{i}", p)
for i, p in enumerate(torch.split(s, [2, 0, 5], 0)):
    ref.add(f"split_sizes_{i}", p)
for i, p in enumerate(torch.chunk(s, 3, 0)):
    ref.add(f"chunk3_{i}", p)
for i, p in enumerate(torch.chunk(s.t(), 2, 1)):
    ref.add(f"chunk_t_{i}", p)

# ---- index_select / gather / scatter_add -------------------------------------------------------------
x = torch.randn(4, 5, dtype=torch.float64)
ref.add("x", x)
isel = torch.tensor([3, 0, 3, 1])
ref.add("isel_idx", isel)
ref.add("isel_dim0", torch.index_select(x, 0, isel))
ref.add("isel_dim1", torch.index_select(x, 1, isel))
xg = x.clone().requires_grad_(True)
(torch.index_select(xg, 0, isel) * torch.arange(20, dtype=torch.float64).reshape(4, 5)).sum().backward()
ref.add("isel_dim0_grad", xg.grad)   # of sum(y * arange)

gidx0 = torch.tensor([[0, 3, 2], [1, 1, 0]])          # gather along dim 0: index (2, 3) <= x (4, 5)
gidx1 = torch.tensor([[4, 0], [2, 2], [1, 3]])        # along dim 1: index (3, 2)
ref.add("gather_idx0", gidx0)
ref.add("gather_idx1", gidx1)
ref.add("gather_dim0", torch.gather(x, 0, gidx0))
ref.add("gather_dim1", torch.gather(x, 1, gidx1))
xg = x.clone().requires_grad_(True)
(torch.gather(xg, 1, gidx1) * torch.arange(6, dtype=torch.float64).reshape(3, 2)).sum().backward()
ref.add("gather_dim1_grad", xg.grad)

src = torch.randn(3, 4, dtype=torch.float64)
sidx0 = torch.tensor([[0, 3, 3, 1], [3, 3, 0, 1]])    # scatter along dim 0, index (2, 4) <= src (3, 4)
sidx1 = torch.tensor([[4, 4, 0], [1, 2, 1], [0, 0, 0]])  # along dim 1, index (3, 3)
ref.add("scatter_src", src)
ref.add("scatter_idx0", sidx0)
ref.add("scatter_idx1", sidx1)
ref.add("scatter_add_dim0", torch.scatter_add(x, 0, sidx0, src))
ref.add("scatter_add_dim1", torch.scatter_add(x, 1, sidx1, src))

# ---- embedding / one_hot -------------------------------------------------------------------------------
wt = torch.randn(6, 3, dtype=torch.float64)
eidx = torch.tensor([[1, 5, 1], [0, 2, 5]])
ref.add("emb_weight", wt)
ref.add("emb_idx", eidx)
ref.add("emb_out", F.embedding(eidx, wt))
proj = torch.arange(18, dtype=torch.float64).reshape(2, 3, 3) - 7
wg = wt.clone().requires_grad_(True)
(F.embedding(eidx, wg) * proj).sum().backward()
ref.add("emb_grad", wg.grad)
wg = wt.clone().requires_grad_(True)
(F.embedding(eidx, wg, padding_idx=5) * proj).sum().backward()
ref.add("emb_grad_pad5", wg.grad)
wg = wt.clone().requires_grad_(True)
(F.embedding(eidx, wg, padding_idx=-5) * proj).sum().backward()
ref.add("emb_grad_padneg5", wg.grad)

oh = torch.tensor([[0, 3], [2, 2]])
ref.add("onehot_idx", oh)
ref.add("onehot_auto", F.one_hot(oh))
ref.add("onehot_6", F.one_hot(oh, 6))

# ---- views (tests/tensor/test_views.cpp) -----------------------------------------------------------------
v = torch.randn(2, 3, 4, dtype=torch.float64)
ref.add("view_x", v)
ref.add("view_reshape_4_6", v.reshape(4, 6))
ref.add("view_permute_201", v.permute(2, 0, 1))
ref.add("view_transpose_02", v.transpose(0, 2))
ref.add("view_transpose_reshape", v.transpose(0, 2).reshape(-1, 6))   # needs a copy
ref.add("view_flatten_1", v.flatten(1))
ref.add("view_flatten_01_of_t", v.transpose(1, 2).flatten(0, 1))
ref.add("view_narrow", v.narrow(2, -3, 2))
ref.add("view_slice_step", v[:, ::2, 1:4:2])
ref.add("view_slice_neg", v[:, -2:, :-1])
ref.add("view_select_neg", v.select(1, -1))
ref.add("view_expand", v[:, :1, :].expand(3, 2, 5, 4))
ref.add("view_unsqueeze_squeeze", v.unsqueeze(1).unsqueeze(-1).squeeze(1))
ref.write()
