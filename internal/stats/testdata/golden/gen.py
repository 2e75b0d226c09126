#!/usr/bin/python3
"""Generate stats.json: SciPy reference values for the drift statistics.

Run with Debian's python3 (numpy + scipy from apt):

    /usr/bin/python3 internal/stats/testdata/golden/gen.py

The Go tests read only stats.json, so CI needs neither Python nor SciPy.
Inputs are stored in the JSON (not seeds) so Go sees exactly these numbers.
Float values are rounded to a few decimals to keep the file small; ties
this creates are part of what is tested.
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stats.json")
MAX_AUTO_N = 10000  # ks_2samp's exact/asymptotic switch in scipy 1.10


def fl(x):
    return [float(v) for v in x]


def r(x, d=4):
    return fl(np.round(np.asarray(x, dtype=float), d))


def ks_method(n, m):
    return "exact" if max(n, m) <= MAX_AUTO_N else "asymp"


def ks_case(name, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exact-branch fallback would warn
        res = stats.ks_2samp(a, b)
    return {
        "name": name,
        "a": a,
        "b": b,
        "statistic": float(res.statistic),
        "pvalue": float(res.pvalue),
        "method": ks_method(len(a), len(b)),
    }


def ks_cases():
    rng = np.random.default_rng(20260101)
    out = []
    # Exact branch: equal sizes.
    for n, shift in [(1, 0.0), (2, 1.0), (5, 0.0), (5, 2.0), (10, 0.5), (20, 0.0),
                     (50, 0.7), (100, 0.3), (500, 0.1), (1000, 0.0)]:
        a = r(rng.normal(size=n))
        b = r(rng.normal(loc=shift, size=n))
        out.append(ks_case(f"exact_equal_n{n}_shift{shift}", a, b))
    # Exact branch: unequal sizes, including coprime and shared factors.
    for n, m, shift in [(3, 7, 0.0), (5, 8, 1.0), (10, 13, 0.4), (12, 18, 0.8),
                        (30, 45, 0.2), (100, 150, 0.5), (200, 333, 0.1),
                        (1000, 1500, 0.05), (3000, 2000, 0.08), (1, 50, 0.0)]:
        a = r(rng.normal(size=n))
        b = r(rng.normal(loc=shift, size=m))
        out.append(ks_case(f"exact_unequal_{n}x{m}_shift{shift}", a, b))
    # Ties: small integer support.
    for n, m in [(20, 20), (25, 40), (300, 200)]:
        a = fl(rng.integers(0, 5, size=n))
        b = fl(rng.integers(1, 6, size=m))
        out.append(ks_case(f"exact_ties_{n}x{m}", a, b))
    # Identical samples: D = 0, p = 1.
    a = r(rng.normal(size=40))
    out.append(ks_case("exact_identical_40", a, list(a)))
    out.append(ks_case("exact_identical_permuted_25x50", a[:25], list(a[:25]) * 2))
    # Disjoint samples: D = 1, tiny p-values.
    for n, m in [(1, 2), (2, 3), (5, 5), (8, 11), (60, 60), (40, 90), (400, 600)]:
        a = r(rng.uniform(0, 1, size=n))
        b = r(rng.uniform(2, 3, size=m))
        out.append(ks_case(f"exact_disjoint_{n}x{m}", a, b))
    # Strong shifts: tiny but non-zero p-values in the exact branch.
    for n, m, shift in [(50, 50, 2.0), (70, 90, 1.5), (200, 250, 0.9)]:
        a = r(rng.normal(size=n))
        b = r(rng.normal(loc=shift, size=m))
        out.append(ks_case(f"exact_tiny_p_{n}x{m}", a, b))

    # The exact/asymptotic threshold: max(n, m) == 10000 must be exact and
    # 10001 asymptotic; the two methods must disagree by more than 1e-5 on
    # these cases, so choosing the wrong branch fails the Go test.
    for n, m, shift in [(10000, 10000, 0.03), (10000, 7000, 0.03),
                        (10001, 10001, 0.03), (10001, 6000, 0.03)]:
        a = r(rng.normal(size=n), 3)
        b = r(rng.normal(loc=shift, size=m), 3)
        c = ks_case(f"threshold_{n}x{m}", a, b)
        pe = stats.ks_2samp(a, b, method="exact").pvalue
        pa = stats.ks_2samp(a, b, method="asymp").pvalue
        c["pvalue_other_branch"] = float(pa if c["method"] == "exact" else pe)
        assert abs(pe - pa) > 1e-5, (n, m, pe, pa)
        out.append(c)

    # Asymptotic branch, both large.
    for n, m, shift in [(12000, 15000, 0.0), (20000, 20000, 0.02),
                        (10001, 30000, 0.05), (15000, 15000, 0.1)]:
        a = r(rng.normal(size=n), 3)
        b = r(rng.normal(loc=shift, size=m), 3)
        out.append(ks_case(f"asymp_{n}x{m}_shift{shift}", a, b))
    # Nearly identical large samples: tiny D (Durbin-matrix region).
    base = rng.normal(size=12000)
    a = r(base, 3)
    b = r(np.concatenate([base[:11990], rng.normal(size=10)]), 3)
    out.append(ks_case("asymp_near_identical_12000", a, b))
    # Mixed sizes: one large, one small -> small effective n, so every
    # branch of the one-sample distribution is reached.
    for n, m, shift in [(10001, 3, 0.0), (10001, 5, 3.0), (20000, 30, 0.2),
                        (20000, 60, 0.6), (10500, 100, 0.0), (10500, 141, 0.4),
                        (10500, 150, 1.2), (25000, 400, 0.25), (12000, 20, 5.0),
                        (11000, 1000, 0.1)]:
        a = r(rng.normal(size=n), 3)
        b = r(rng.normal(loc=shift, size=m), 3)
        out.append(ks_case(f"asymp_mixed_{n}x{m}_shift{shift}", a, b))
    # Large, heavily tied (integer) data.
    a = fl(rng.poisson(3.0, size=15000))
    b = fl(rng.poisson(3.1, size=11000))
    out.append(ks_case("asymp_poisson_ties_15000x11000", a, b))
    return out


def kstwo_cases():
    """Direct values of the one-sample two-sided distribution kstwo.sf."""
    out = []
    ns = [1, 2, 3, 5, 10, 37, 100, 140, 141, 500, 1000, 5000, 100000, 100001,
          500000, 1000000]
    for n in ns:
        xs = set()
        for z in [0.3, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 15.0]:
            xs.add(z / math.sqrt(n))
        for t in [0.4, 0.7, 1.0, n - 1.0, n - 0.5]:
            xs.add(t / n)
        xs.update([0.5, 0.75, 0.99])
        for x in sorted(xs):
            if not (0 < x < 1):
                continue
            out.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    return out


def ks_weighted_cases():
    """KS2Weighted on integer-weighted summaries equals the asymptotic
    ks_2samp on the expanded samples."""
    rng = np.random.default_rng(7)
    out = []
    for k1, k2, shift in [(50, 60, 0.0), (200, 150, 0.3), (30, 300, 1.0), (100, 100, 0.05)]:
        av = np.unique(r(rng.normal(size=k1), 2))
        bv = np.unique(r(rng.normal(loc=shift, size=k2), 2))
        aw = rng.integers(1, 40, size=len(av)).astype(float)
        bw = rng.integers(1, 40, size=len(bv)).astype(float)
        ea = np.repeat(av, aw.astype(int))
        eb = np.repeat(bv, bw.astype(int))
        res = stats.ks_2samp(ea, eb, method="asymp")
        out.append({"name": f"weighted_{k1}x{k2}_shift{shift}",
                    "av": fl(av), "aw": fl(aw), "bv": fl(bv), "bw": fl(bw),
                    "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    return out


def chi2_cases():
    rng = np.random.default_rng(11)
    tables = {
        "2x2_yates": [[12, 5], [7, 9]],
        "2x2_yates_large": [[1200, 800], [1100, 900]],
        "2x2_small_counts": [[1, 3], [4, 0]],
        "2x2_diff_below_half": [[10, 10], [10, 11]],
        "2x2_exact_independent": [[10, 20], [20, 40]],
        "2x3": [[10, 10, 20], [20, 20, 20]],
        "2x5_small": [[0, 1, 2, 5, 1], [3, 1, 0, 2, 2]],
        "3x4": [[5, 8, 2, 9], [7, 3, 6, 1], [2, 4, 9, 8]],
        "2x8_drift": [list(rng.integers(50, 500, size=8)), list(rng.integers(50, 500, size=8))],
        "2x20_strong": [list(rng.integers(0, 50, size=20)), list(rng.integers(20, 120, size=20))],
        "2x2_fractional": [[3.5, 1.25], [2.0, 6.75]],
    }
    out = []
    for name, t in tables.items():
        t = np.asarray(t, dtype=float)
        stat, p, dof, _ = stats.chi2_contingency(t)
        out.append({"name": name, "table": [fl(row) for row in t],
                    "stat": float(stat), "p": float(p), "dof": int(dof)})
    # All-zero columns are dropped by the Go code; the reference is SciPy on
    # the table without them.
    for name, t in {"2x4_zero_column": [[5, 0, 3, 7], [2, 0, 9, 1]],
                    "2x3_zero_column_to_2x2": [[0, 4, 6], [0, 9, 2]]}.items():
        t = np.asarray(t, dtype=float)
        kept = t[:, t.sum(axis=0) > 0]
        stat, p, dof, _ = stats.chi2_contingency(kept)
        out.append({"name": name, "table": [fl(row) for row in t],
                    "stat": float(stat), "p": float(p), "dof": int(dof)})
    return out


def chi2_sf_cases():
    out = []
    for dof in [1, 2, 3, 4.5, 10, 37, 100, 1000]:
        for x in [0.0, 1e-3, 0.5, 1, 2.5, 7.3, 15, 40, 120, 1100, 1500]:
            out.append({"x": x, "dof": dof, "sf": float(stats.chi2.sf(x, dof))})
    return out


def js_cases():
    rng = np.random.default_rng(3)
    out = []
    pairs = [
        ([1, 0, 0], [0, 1, 0]),
        ([1, 2, 3], [1, 2, 3]),
        ([1, 2, 3], [2, 4, 6]),
        ([0.5, 0.5, 0], [0, 0.1, 0.9]),
        ([10, 0, 5, 3], [1, 1, 1, 1]),
    ]
    for k in [5, 10, 50]:
        pairs.append((r(rng.uniform(0, 10, size=k), 3), r(rng.uniform(0, 10, size=k), 3)))
        pairs.append((fl(rng.integers(0, 100, size=k)), fl(rng.integers(0, 100, size=k))))
    for i, (p, q) in enumerate(pairs):
        out.append({"name": f"js_{i}", "p": fl(p), "q": fl(q),
                    "value": float(distance.jensenshannon(p, q))})
    return out


def wasserstein_cases():
    rng = np.random.default_rng(5)
    out = []
    simple = [
        ([0, 1, 3], [5, 6, 8], None, None),
        ([0, 1], [0, 1], None, None),
        ([3.4, 3.9, 7.5, 7.8], [4.5, 1.4], [1.4, 0.9, 3.1, 7.2], [3.2, 3.5]),
        ([1, 1, 1, 2], [1, 2, 2], None, None),
    ]
    for n, m, s in [(10, 15, 0.5), (200, 300, 1.0), (1000, 1000, 0.0)]:
        simple.append((r(rng.normal(size=n)), r(rng.normal(loc=s, size=m)), None, None))
    for n, m in [(20, 30), (300, 150)]:
        simple.append((r(rng.normal(size=n)), r(rng.normal(size=m) * 2),
                       r(rng.uniform(0, 3, size=n), 3), fl(rng.integers(0, 5, size=m))))
    for i, (a, b, aw, bw) in enumerate(simple):
        v = stats.wasserstein_distance(a, b, aw, bw)
        c = {"name": f"w1_{i}", "a": fl(a), "b": fl(b), "value": float(v)}
        if aw is not None:
            c["aw"] = fl(aw)
            c["bw"] = fl(bw)
        out.append(c)
    return out


def bh_reference(p):
    # statsmodels' fdrcorrection: adjusted p_(i) = min_{j>=i} min(1, m p_(j)/j).
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    adj = np.minimum(1.0, ps * m / np.arange(1, m + 1))
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = adj
    return out


def bh_cases():
    rng = np.random.default_rng(9)
    arrays = [
        [0.01],
        [0.01, 0.04, 0.03, 0.005, 0.5],
        [0.2, 0.2, 0.2, 0.01],
        [1.0, 0.9, 0.95],
        [0.0, 1e-12, 0.049, 0.051],
        fl(rng.uniform(size=20)),
        fl(np.concatenate([rng.uniform(0, 1e-3, size=10), rng.uniform(size=90)])),
        fl(np.round(rng.uniform(size=50), 2)),
    ]
    out = []
    for i, p in enumerate(arrays):
        ref = bh_reference(p)
        if hasattr(stats, "false_discovery_control"):
            assert np.allclose(ref, stats.false_discovery_control(p, method="bh"))
        out.append({"name": f"bh_{i}", "p": fl(p), "bh": fl(ref),
                    "bonferroni": fl(np.minimum(1.0, np.asarray(p) * len(p)))})
    return out


def psi_cases():
    # No SciPy function: the reference is the documented formula in numpy.
    out = []
    pairs = [
        ([10, 20, 30, 40], [10, 20, 30, 40]),
        ([10, 20, 30, 40], [40, 30, 20, 10]),
        ([100, 0, 50], [80, 10, 60]),
        ([5, 5, 5, 5, 0], [1, 2, 3, 4, 100]),
    ]
    for i, (e, a) in enumerate(pairs):
        e = np.asarray(e, dtype=float)
        a = np.asarray(a, dtype=float)
        pe = np.maximum(e / e.sum(), 1e-4)
        pa = np.maximum(a / a.sum(), 1e-4)
        out.append({"name": f"psi_{i}", "expected": fl(e), "actual": fl(a),
                    "value": float(np.sum((pa - pe) * np.log(pa / pe)))})
    return out


def main():
    doc = {
        "generator": "internal/stats/testdata/golden/gen.py",
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "ks2": ks_cases(),
        "kstwo_sf": kstwo_cases(),
        "ks2_weighted": ks_weighted_cases(),
        "chi2_contingency": chi2_cases(),
        "chi2_sf": chi2_sf_cases(),
        "jensenshannon": js_cases(),
        "wasserstein": wasserstein_cases(),
        "multiple": bh_cases(),
        "psi": psi_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    total = sum(len(v) for v in doc.values() if isinstance(v, list))
    print(f"wrote {OUT}: {total} cases, {os.path.getsize(OUT)} bytes, scipy {scipy.__version__}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
