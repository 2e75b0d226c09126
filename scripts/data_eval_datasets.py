#!/usr/bin/python3
"""Write the poisoning-audit evaluation datasets as CSV files.

Usage: data_eval_datasets.py OUTDIR [--no-fashion] [--noise-seed=N]

--noise-seed changes which rows are flipped (default 20260), to check that
results do not hinge on one draw.

Every file has a header row and numeric cells only. Label-noise files hold the
features followed by a "label" column carrying the *noisy* labels; outlier files
hold features only (a label column would leak the ground truth). OUTDIR/truth.json
lists, per file, the 0-based data rows (header excluded) that were flipped or that
are outliers, plus the clean labels of flipped rows.

Everything is seeded, so repeated runs produce byte-identical files. The
Fashion-MNIST files are ~20 MB each: generate them into a temporary directory at
evaluation time and never commit them.
"""

import gzip
import json
import os
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
NOISE_SEED = 20260
OUTLIER_SEEDS = range(10)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    return data.reshape(shape)


def flip(y, classes, rate, kind, seed):
    """Flip exactly round(rate * n_c) labels of every class c.

    uniform: the new label is drawn uniformly from the other classes.
    classdep: "pair flip" (Han et al. 2018, Co-teaching): class c always becomes
    (c + 1) mod classes, so the noise transition matrix is a fixed permutation
    with the given off-diagonal rate.
    """
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    flipped = []
    for c in range(classes):
        idx = np.flatnonzero(y == c)
        k = int(round(rate * len(idx)))
        chosen = np.sort(rng.choice(idx, size=k, replace=False))
        for i in chosen:
            if kind == "uniform":
                other = int(rng.integers(classes - 1))
                noisy[i] = other if other < c else other + 1
            else:
                noisy[i] = (c + 1) % classes
        flipped.extend(int(i) for i in chosen)
    return noisy, sorted(flipped)


def write_csv(path, X, label=None, integer=False):
    cols = ["f%d" % j for j in range(X.shape[1])]
    if label is not None:
        cols.append("label")
        X = np.column_stack([X, label])
    fmt = "%d" if integer else "%.10g"
    np.savetxt(path, X, fmt=fmt, delimiter=",", header=",".join(cols), comments="")


def noise_files(out, truth, name, X, y, integer, base_seed):
    classes = int(y.max()) + 1
    for rate in (20, 40):
        for kind in ("uniform", "classdep"):
            fname = "%s_noise%d_%s.csv" % (name, rate, kind)
            seed = base_seed + rate + (0 if kind == "uniform" else 1)
            noisy, flipped = flip(y, classes, rate / 100.0, kind, seed)
            write_csv(os.path.join(out, fname), X, noisy, integer)
            truth[fname] = {
                "kind": "label_noise",
                "dataset": name,
                "noise": kind,
                "rate": rate / 100.0,
                "seed": seed,
                "classes": classes,
                "label_column": "label",
                "rows": flipped,
                "clean_labels": [int(y[i]) for i in flipped],
            }


def outlier_files(out, truth, name, inliers, pool, count):
    for seed in OUTLIER_SEEDS:
        rng = np.random.default_rng(1000 + seed)
        out_rows = pool[np.sort(rng.choice(len(pool), size=count, replace=False))]
        X = np.vstack([inliers, out_rows])
        is_out = np.r_[np.zeros(len(inliers), bool), np.ones(count, bool)]
        perm = rng.permutation(len(X))
        X, is_out = X[perm], is_out[perm]
        fname = "%s_seed%d.csv" % (name, seed)
        write_csv(os.path.join(out, fname), X)
        truth[fname] = {
            "kind": "outlier",
            "dataset": name,
            "seed": seed,
            "label_column": None,
            "rows": [int(i) for i in np.flatnonzero(is_out)],
        }


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: data_eval_datasets.py OUTDIR [--no-fashion]")
    out = args[0]
    base_seed = NOISE_SEED
    for a in sys.argv[1:]:
        if a.startswith("--noise-seed="):
            base_seed = int(a.split("=", 1)[1])
    os.makedirs(out, exist_ok=True)
    truth = {}

    d = load_digits()
    noise_files(out, truth, "digits", d.data.astype(np.int64), d.target, True, base_seed)

    if "--no-fashion" not in sys.argv:
        X = read_idx(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz"))
        noise_files(out, truth, "fashion", X.reshape(len(X), -1).astype(np.int64),
                    y.astype(np.int64), True, base_seed)

    # ODDS "wbc" analogue: all benign (target 1) rows, 21 malignant (target 0).
    bc = load_breast_cancer()
    outlier_files(out, truth, "wbc", bc.data[bc.target == 1], bc.data[bc.target == 0], 21)

    # ODDS "wine" analogue: classes 1 and 2 are inliers, 10 rows of class 0 outliers.
    w = load_wine()
    outlier_files(out, truth, "wine", w.data[w.target != 0], w.data[w.target == 0], 10)

    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
