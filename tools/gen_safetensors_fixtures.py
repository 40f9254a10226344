"""tools/gen_safetensors_fixtures.py -- safetensors interop fixtures for tests/nn/test_safetensors.cpp,
both directions. Run with /usr/bin/python3 (PyTorch 1.13).

1. Python -> attograd: writes tests/data/st_python.safetensors (F32, F64, I64, BOOL, a 0-d and an
   empty tensor, metadata with a non-ASCII value) and tests/data/st_python_f16.safetensors (a dtype
   attograd does not support). With the `safetensors` package importable it uses its writer
   (safetensors.torch.save_file); Debian bookworm has no python3-safetensors, so otherwise it writes
   the bytes by hand exactly as the reference (Rust) writer does: metadata first, tensors sorted by
   descending dtype then name, compact JSON, spaces to a multiple of 8 bytes.

2. attograd -> Python/PyTorch: reads tests/data/st_atto.safetensors -- written by save_safetensors
   (the C++ test checks that it still writes exactly these bytes; after a deliberate format change
   regenerate it with ATTO_SAFETENSORS_OUT=tests/data/st_atto.safetensors build/tests/attograd_tests
   -tc='*committed fixture*') -- with a strict pure-Python reader into torch tensors (and with
   safetensors.torch.load_file when available), and checks every value against the formulas the
   C++ test used. `--check` does only this part, writing nothing.

The values are formulas both sides recompute (see the C++ test).
"""
import json
import os
import struct
import sys

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")

# The reference writer's dtype order (Rust `Dtype`'s declaration order, which it sorts by, descending).
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
               "I64", "U64"]
TO_ST = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL", torch.float16: "F16"}
FROM_ST = {v: k for k, v in TO_ST.items()}

try:
    import safetensors.torch as st_torch
except ImportError:
    st_torch = None


def tensor_bytes(t):
    return t.contiguous().numpy().tobytes()   # C order, native = little-endian (x86/arm64)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate key in {keys}"
    return dict(pairs)


def write_by_hand(path, tensors, metadata):
    """The reference writer's byte layout (safetensors/src/tensor.rs: prepare + serialize)."""
    names = sorted(tensors, key=lambda n: (-DTYPE_ORDER.index(TO_ST[tensors[n].dtype]), n))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for n in names:
        data = tensor_bytes(tensors[n])
        header[n] = {"dtype": TO_ST[tensors[n].dtype], "shape": list(tensors[n].shape),
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write(name, tensors, metadata=None):
    path = os.path.join(DATA, name)
    if st_torch is not None:
        st_torch.save_file(tensors, path, metadata=metadata)
        how = "safetensors.torch.save_file"
    else:
        write_by_hand(path, tensors, metadata)
        how = "by hand (no safetensors package)"
    print("wrote", path, os.path.getsize(path), "bytes,", how)


def read_strict(path):
    """A pure-Python reader that enforces the spec: returns (ordered [(name, tensor)], metadata)."""
    raw = open(path, "rb").read()
    assert len(raw) >= 8, "truncated"
    (n,) = struct.unpack("<Q", raw[:8])
    assert n <= len(raw) - 8, "header length past the end"
    assert n % 8 == 0, "header not padded to a multiple of 8 like the reference writer"
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{") and text.rstrip(" ") == text.rstrip(), "header padding must be spaces"
    header = json.loads(text, object_pairs_hook=no_duplicates)
    buf = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    out, pos = [], 0
    for name, info in entries:
        assert set(info) == {"dtype", "shape", "data_offsets"}, name
        begin, end = info["data_offsets"]
        assert begin == pos, f"{name}: gap or overlap"
        dtype = FROM_ST[info["dtype"]]
        numel = 1
        for d in info["shape"]:
            numel *= d
        assert end - begin == numel * torch.empty((), dtype=dtype).element_size(), f"{name}: size"
        chunk = bytearray(buf[begin:end])
        t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        out.append((name, t.reshape(info["shape"]).clone()))
        pos = end
    assert pos == len(buf), "bytes after the last tensor"
    return out, metadata


def grid():
    i, j = torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij")
    return i, j


def python_fixture():
    # value (i, j) = i * 10 + j - 0.5 (floats), i * 10 - j (int64), (i + j) even (bool)
    i, j = grid()
    tensors = {
        "weight": (i * 10 + j - 0.5).to(torch.float32),
        "double": (i * 10 + j - 0.5).to(torch.float64),
        "index": (i * 10 - j).to(torch.int64) * (1 << 40),
        "mask": (i + j) % 2 == 0,
        "scalar": torch.tensor(2.75, dtype=torch.float64),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    write("st_python.safetensors", tensors, {"format": "pt", "note": "gr\u00fc\u00df \u2713"})
    write("st_python_f16.safetensors", {"half": torch.tensor([1.0, 2.0], dtype=torch.float16)})


def expected_atto():
    """The tensors the C++ test writes into st_atto.safetensors, in its order."""
    i, j = grid()
    return [
        ("linear.weight", (i * 10 + j - 0.5).to(torch.float32).t()),    # written from a transposed view
        ("linear.bias", torch.arange(3, dtype=torch.float64) / 4 - 1),
        ("step", torch.tensor(123456789012, dtype=torch.int64)),
        ("mask", torch.eye(2, dtype=torch.bool)),
        ("empty", torch.zeros(0, 4, dtype=torch.float32)),
        ("ids", torch.tensor([-(1 << 40), 0, 7, 1 << 50], dtype=torch.int64)),
    ], {"format": "pt", "epoch": "3"}


def check_atto_file(path):
    got, metadata = read_strict(path)
    want, want_meta = expected_atto()
    assert [n for n, _ in got] == [n for n, _ in want], (got, want)
    for (name, g), (_, w) in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape and torch.equal(g, w), (name, g, w)
    assert metadata == want_meta, metadata
    if st_torch is not None:
        loaded = st_torch.load_file(path)
        for name, w in want:
            assert torch.equal(loaded[name], w), name
    readers = "a strict pure-Python reader" + (" and safetensors.torch.load_file" if st_torch else "")
    print(f"read {path} with {readers} into torch {torch.__version__}: all {len(got)} tensors and the metadata match")


if __name__ == "__main__":
    if "--check" not in sys.argv:
        os.makedirs(DATA, exist_ok=True)
        python_fixture()
        read_strict(os.path.join(DATA, "st_python.safetensors"))   # what we wrote passes the strict reader
    check_atto_file(os.path.join(DATA, "st_atto.safetensors"))
