"""tools/gen_ref_softmax.py -- PyTorch reference values for softmax / log_softmax
(tests/ops/test_softmax.cpp): every dim of a 3-d input in float64 and float32, a non-contiguous view,
large inputs (stability) and -inf entries (masked positions). Run: /usr/bin/python3 tools/gen_ref_softmax.py
"""
import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(1)
ref = Ref("softmax")

x = torch.randn(3, 4, 5, dtype=torch.float64) * 3
ref.add("x", x)
for fname, fn in {"softmax": F.softmax, "log_softmax": F.log_softmax}.items():
    for dname, dim in {"d0": 0, "d1": 1, "d2": 2, "dm1": -1}.items():
        ref.add(f"{fname}_{dname}_f64", fn(x, dim))
        ref.add(f"{fname}_{dname}_f32", fn(x.float(), dim))
    # permute(2, 0, 1) is a non-contiguous [5, 3, 4] view
    ref.add(f"{fname}_nc_d0", fn(x.permute(2, 0, 1), 0))
    ref.add(f"{fname}_nc_dm1", fn(x.permute(2, 0, 1), -1))

big = torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]], dtype=torch.float64)
ref.add("big", big)
ref.add("softmax_big", F.softmax(big, 1))
ref.add("log_softmax_big", F.log_softmax(big, 1))

masked = torch.tensor([[0.5, float("-inf"), 1.5, float("-inf")], [2.0, 1.0, float("-inf"), 0.0]], dtype=torch.float64)
ref.add("masked", masked)
ref.add("softmax_masked", F.softmax(masked, 1))
ref.add("log_softmax_masked", F.log_softmax(masked, 1))

ref.write()
