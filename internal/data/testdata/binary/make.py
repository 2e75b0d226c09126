#!/usr/bin/python3
"""Regenerates the NumPy fixtures of the binary readers' tests.

Run from this directory with Debian's python3-numpy:  /usr/bin/python3 make.py
It writes small .npy/.npz files and expected.json, which holds for each
file its shape (rows first), kind and values flattened in C order (NaN and
infinities as the strings "nan", "inf", "-inf").
"""
import json
import math

import numpy as np

rng = np.random.default_rng(20261202)
expected = {}


def flat(a):
    out = []
    for v in np.ascontiguousarray(a).reshape(-1).tolist():
        if isinstance(v, float) and math.isnan(v):
            out.append("nan")
        elif isinstance(v, float) and math.isinf(v):
            out.append("inf" if v > 0 else "-inf")
        elif isinstance(v, bool):
            out.append(1 if v else 0)
        else:
            out.append(v)
    return out


def kind(a):
    if a.dtype.kind == "b":
        return "bool"
    if a.dtype.kind in "iu":
        return "int"
    return "float"


def save(name, a, **kw):
    version = kw.pop("version", None)
    with open(name, "wb") as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=False)
    expected[name] = {"shape": list(a.shape), "kind": kind(a), "values": flat(a)}


save("f8_1d.npy", np.array([1.5, -2.25, np.nan, np.inf, -np.inf, 0.0, 1e-300], dtype="<f8"))
save("f8_be_2d.npy", rng.normal(size=(5, 3)).astype(">f8"))
save("f4_be.npy", rng.normal(size=(4,)).astype(">f4"))
save("f2.npy", np.array([0.5, -1.0, 65504.0, 6e-8, np.inf, 3.140625], dtype="<f2"))
save("i1.npy", np.array([-128, -1, 0, 127], dtype="i1"))
save("u1_3d.npy", rng.integers(0, 256, size=(3, 2, 4)).astype("u1"))
save("i2_le.npy", np.array([[-32768, 5], [32767, -7]], dtype="<i2"))
save("u2_be.npy", np.array([0, 1, 65535], dtype=">u2"))
save("i4_be_2d.npy", rng.integers(-(2**31), 2**31 - 1, size=(4, 3)).astype(">i4"))
save("u4.npy", np.array([0, 4294967295], dtype="<u4"))
save("i8.npy", np.array([-(2**53), 2**53, -1, 7], dtype="<i8"))
save("u8_be.npy", np.array([0, 2**60, 2**64 - 1], dtype=">u8"))
save("bool.npy", np.array([True, False, True, True, False]))
save("v2.npy", np.arange(6, dtype="<i4").reshape(3, 2), version=(2, 0))
save("v3.npy", np.arange(4, dtype="<f8"), version=(3, 0))

# Fortran order: expected values are still listed in C order.
fa = np.asfortranarray(rng.normal(size=(4, 3, 2)))
save("fortran_3d.npy", fa)
assert np.load("fortran_3d.npy").flags.f_contiguous

# Arrays rampart must refuse.
np.save("object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
np.save("structured.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
np.save("unicode.npy", np.array(["ab", "c"]))

X = rng.normal(size=(6, 2, 3)).astype("<f4")
y = np.arange(6, dtype="<i8") % 3
w = rng.normal(size=(6,))
np.savez("savez.npz", X=X, y=y, w=w)
np.savez_compressed("savez_compressed.npz", X=X, y=y, w=w)
for name in ("savez.npz", "savez_compressed.npz"):
    expected[name] = {
        "X": {"shape": list(X.shape), "kind": "float", "values": flat(X)},
        "y": {"shape": list(y.shape), "kind": "int", "values": flat(y)},
        "w": {"shape": list(w.shape), "kind": "float", "values": flat(w)},
    }
np.savez("rows_differ.npz", a=np.zeros(3), b=np.zeros(4))

with open("expected.json", "w") as f:
    json.dump(expected, f, indent=0, sort_keys=True)
