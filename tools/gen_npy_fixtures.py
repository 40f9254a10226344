"""tools/gen_npy_fixtures.py -- small .npy files written by NumPy itself, for
tests/tensor/test_npy.cpp (load_npy must read what numpy writes). Run with /usr/bin/python3.

Writes tests/data/npy_*.npy; the values are simple formulas the test recomputes (see the test).
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
os.makedirs(OUT, exist_ok=True)


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version)
    print("wrote", path, arr.dtype, arr.shape)


# value (i, j) = i * 10 + j - 0.5 (float), i * 10 - j (int), (i + j) % 2 == 0 (bool)
i, j = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
save("npy_f4.npy", (i * 10 + j - 0.5).astype("<f4"))
save("npy_f8.npy", (i * 10 + j - 0.5).astype("<f8"))
save("npy_i8.npy", (i * 10 - j).astype("<i8"))
save("npy_b1.npy", ((i + j) % 2 == 0))
save("npy_f8_v2.npy", (i * 10 + j - 0.5).astype("<f8"), version=(2, 0))
save("npy_f8_scalar.npy", np.array(2.75, dtype="<f8"))
save("npy_f4_empty.npy", np.zeros((0, 3), dtype="<f4"))
save("npy_f4_fortran.npy", np.asfortranarray((i * 10 + j - 0.5).astype("<f4")))
save("npy_c8.npy", np.array([1 + 2j, 3 - 1j], dtype="<c8"))
save("npy_f4_bigendian.npy", np.array([1.0, 2.0], dtype=">f4"))
