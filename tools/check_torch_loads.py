"""tools/check_torch_loads.py -- proves that a model trained and saved by attograd loads in PyTorch:
reads DIR/atto_trained_model.safetensors (the state_dict written by save_safetensors) with the strict
pure-Python safetensors reader, loads it with load_state_dict(strict=True) into the PyTorch twin
(Twin in tools/gen_fixture_trained_model.py), runs DIR/atto_trained_model_io.safetensors's "input"
in eval mode and compares with attograd's "output" (relative 1e-5). Run with /usr/bin/python3
(PyTorch 1.13); exit status 0 when everything matches.

    ATTO_TRAINED_MODEL_OUT=/tmp/m build/tests/attograd_tests -tc='*trained here*'
    /usr/bin/python3 tools/check_torch_loads.py /tmp/m
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixture_trained_model import Twin  # noqa: E402
from gen_safetensors_fixtures import read_strict  # noqa: E402


def main(directory):
    tensors, _ = read_strict(os.path.join(directory, "atto_trained_model.safetensors"))
    io = dict(read_strict(os.path.join(directory, "atto_trained_model_io.safetensors"))[0])
    model = Twin()
    model.load_state_dict(dict(tensors), strict=True)   # raises on any missing/unexpected key or shape
    model.eval()
    out = model(io["input"]).detach()   # grad mode on: the math path, as attograd computes it
    want = io["output"]
    diff = (out - want).abs().max().item()
    ok = out.dtype == want.dtype and out.shape == want.shape and torch.allclose(out, want, rtol=1e-5, atol=1e-6)
    print(f"PyTorch {torch.__version__} loaded {len(tensors)} tensors strictly; outputs {tuple(out.shape)}, "
          f"max |torch - attograd| = {diff:.3g}: {'match' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
