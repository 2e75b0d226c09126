#!/usr/bin/python3
"""Plant duplicates, near duplicates and conflicting labels in real data.

Usage: data_eval_planted.py OUTDIR

Writes OUTDIR/planted_digits.csv and OUTDIR/planted_cancer.csv (features,
then a "label" column) and OUTDIR/planted_truth.json listing, per file, the
0-based data rows that are planted copies:

  duplicate:          exact copies of another row, same label
  near_duplicate:     copies with 1% of each feature's standard deviation of
                      Gaussian noise added, same label
  (for these two, the later row of each original/copy pair is listed)
  conflicting_labels: exact copies with a different label, together with the
                      rows they copy (both carry conflicting labels)

scikit-learn's digits and breast-cancer sets have no duplicate rows and no
two rows closer than 0.11 standard deviations (RMS) of each other, so every
other finding of these kinds would be invented.
"""
import json
import os
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits


def plant(X, y, rng, n_dup=15, n_near=15, n_conf=10):
    n = len(X)
    X = X.astype(float)
    classes = np.unique(y)
    # Noise in proportion to each feature's spread: a constant feature
    # (digits has several blank pixels) stays constant in the copy.
    std = X.std(axis=0, ddof=1)
    src = rng.choice(n, size=n_dup + n_near + n_conf, replace=False)
    rows, labels, kinds = [], [], []
    for k, i in enumerate(src):
        if k < n_dup:
            rows.append(X[i].copy()); labels.append(y[i]); kinds.append(("duplicate", i))
        elif k < n_dup + n_near:
            noisy = X[i] + rng.normal(0, 0.01, X.shape[1]) * std
            rows.append(noisy); labels.append(y[i]); kinds.append(("near_duplicate", i))
        else:
            other = rng.choice(classes[classes != y[i]])
            rows.append(X[i].copy()); labels.append(other); kinds.append(("conflicting_labels", i))
    # Interleave the copies at random places among the original rows.
    allX = np.vstack([X, np.array(rows)])
    ally = np.concatenate([y, np.array(labels)])
    order = rng.permutation(len(allX))
    pos = np.empty(len(order), dtype=int)
    pos[order] = np.arange(len(order))
    truth = {"duplicate": [], "near_duplicate": [], "conflicting_labels": []}
    for k, (kind, i) in enumerate(kinds):
        new, old = int(pos[n + k]), int(pos[i])
        if kind == "conflicting_labels":
            truth[kind] += [new, old]
        else:
            # The audit reports the later row of a pair as the copy of the
            # earlier one, whichever of them was planted.
            truth[kind].append(max(new, old))
    for v in truth.values():
        v.sort()
    return allX[order], ally[order], truth


def write_csv(path, X, y, integer):
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(X.shape[1])) + ",label\n")
        for row, lab in zip(X, y):
            if integer:
                vals = [repr(float(v)) if v != int(v) else str(int(v)) for v in row]
            else:
                vals = [repr(float(v)) for v in row]
            f.write(",".join(vals) + f",{int(lab)}\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    truth = {}
    for name, loader, seed, integer in (("digits", load_digits, 11, True), ("cancer", load_breast_cancer, 12, False)):
        d = loader()
        X, y, t = plant(d.data, d.target, np.random.default_rng(seed))
        fname = f"planted_{name}.csv"
        write_csv(os.path.join(out, fname), X, y, integer)
        truth[fname] = t
    with open(os.path.join(out, "planted_truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
