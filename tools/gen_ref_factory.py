"""tools/gen_ref_factory.py -- reference values for arange / linspace / eye
(tests/tensor/test_factory.cpp). Run with /usr/bin/python3."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refgen import Ref  # noqa: E402

ref = Ref("factory")
ref.add("arange_5", torch.arange(5.0))
ref.add("arange_1_2p5_0p3_f32", torch.arange(1.0, 2.5, 0.3))
ref.add("arange_1_2p5_0p3_f64", torch.arange(1.0, 2.5, 0.3, dtype=torch.float64))
ref.add("arange_neg_step", torch.arange(3.0, -2.0, -0.7))
ref.add("arange_i64", torch.arange(-3, 10, 3, dtype=torch.int64))
ref.add("arange_frac_f32", torch.arange(0.0, 1.0, 0.1))
ref.add("linspace_0_1_5", torch.linspace(0.0, 1.0, 5))
ref.add("linspace_m3_7_11_f32", torch.linspace(-3.0, 7.0, 11))
ref.add("linspace_0p1_0p9_7_f32", torch.linspace(0.1, 0.9, 7))
ref.add("linspace_0p1_0p9_7_f64", torch.linspace(0.1, 0.9, 7, dtype=torch.float64))
ref.add("linspace_desc_6_f32", torch.linspace(2.5, -1.3, 6))
ref.add("linspace_i64", torch.linspace(0.0, 10.0, 4, dtype=torch.int64))
ref.add("linspace_one", torch.linspace(4.0, 9.0, 1))
ref.add("eye_3", torch.eye(3))
ref.add("eye_2_4", torch.eye(2, 4))
ref.add("eye_4_2", torch.eye(4, 2))
ref.write()
