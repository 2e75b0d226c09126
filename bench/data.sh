#!/usr/bin/env bash
# Data-profiling benchmark: `rampart data profile` against pandas
# (Debian's python3-pandas: read the file, then DataFrame.describe()) on
# the same large numeric table, in one run, interleaved, median of ROUNDS.
#   - CSV:     rampart on one core (GOMAXPROCS=1) and on all cores; pandas
#              read_csv + describe (pandas is single-threaded)
#   - Parquet: rampart on one core and on all cores (Debian has no pyarrow,
#              so pandas cannot read Parquet here; its CSV figure is the
#              reference)
#   - memory:  peak RSS on the table and on one 4× longer (rows grow, the
#              sketches do not)
# Writes bench/results/data.json and bench/results/data.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
ROWS=${ROWS:-1000000}
COLS=${COLS:-20}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/rampart-databench.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c 'import pandas' 2>/dev/null || { echo "python3-pandas is needed (apt-get install python3-pandas)"; exit 2; }
go build -o "$work/rampart" ./cmd/rampart
go build -o "$work/datagen" ./bench/datagen

echo "== making $ROWS x $COLS and $((ROWS*4)) x $COLS tables in $work"
"$work/datagen" -rows "$ROWS" -cols "$COLS" -seed 1 -csv "$work/t.csv" -parquet "$work/t.parquet"
"$work/datagen" -rows "$((ROWS*4))" -cols "$COLS" -seed 2 -csv "$work/big.csv" -parquet "$work/big.parquet"
ls -l "$work"
cat > "$work/pandas_describe.py" <<'PY'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
d = df.describe()
print(d.shape)
PY

run() { # label cmd... -> prints "label seconds maxrss_kb"
  local label=$1; shift
  local out
  out=$( { /usr/bin/time -f '%e %M' "$@" > /dev/null; } 2>&1 | tail -1 )
  echo "$label $out"
}
: > "$work/times"
for i in $(seq "$ROUNDS"); do
  cat "$work/t.csv" "$work/t.parquet" > /dev/null
  run rampart_csv_1core env GOMAXPROCS=1 "$work/rampart" data profile "$work/t.csv" -o "$work/p.json" >> "$work/times"
  run rampart_csv_all "$work/rampart" data profile "$work/t.csv" -o "$work/p.json" >> "$work/times"
  run pandas_csv /usr/bin/python3 "$work/pandas_describe.py" "$work/t.csv" >> "$work/times"
  run rampart_parquet_1core env GOMAXPROCS=1 "$work/rampart" data profile "$work/t.parquet" -o "$work/p.json" >> "$work/times"
  run rampart_parquet_all "$work/rampart" data profile "$work/t.parquet" -o "$work/p.json" >> "$work/times"
done
run rampart_csv_big_1core env GOMAXPROCS=1 "$work/rampart" data profile "$work/big.csv" -o "$work/p.json" >> "$work/times"
run rampart_parquet_big_1core env GOMAXPROCS=1 "$work/rampart" data profile "$work/big.parquet" -o "$work/p.json" >> "$work/times"
cat "$work/times"

/usr/bin/python3 - "$work" "$ROWS" "$COLS" "$(nproc)" <<'PY'
import json, os, statistics, sys, datetime
work, rows, cols, ncpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs = {}
for line in open(f"{work}/times"):
    label, t, rss = line.split()
    runs.setdefault(label, []).append((float(t), int(rss)))
cells = rows * cols
res = {"date": datetime.date.today().isoformat(), "rows": rows, "cols": cols, "cells": cells, "cpus": ncpu,
       "csv_bytes": os.path.getsize(f"{work}/t.csv"), "parquet_bytes": os.path.getsize(f"{work}/t.parquet"), "runs": {}}
for label, rs in runs.items():
    t = statistics.median(r[0] for r in rs)
    rss = max(r[1] for r in rs)
    n = cells * (4 if "_big" in label else 1)
    res["runs"][label] = {"seconds_median": t, "seconds_all": [r[0] for r in rs], "max_rss_mib": round(rss / 1024, 1),
                          "mcells_per_s": round(n / t / 1e6, 2)}
r = res["runs"]
res["csv_1core_vs_pandas"] = round(r["pandas_csv"]["seconds_median"] / r["rampart_csv_1core"]["seconds_median"], 2)
res["csv_all_vs_pandas"] = round(r["pandas_csv"]["seconds_median"] / r["rampart_csv_all"]["seconds_median"], 2)
res["parquet_1core_vs_pandas_csv"] = round(r["pandas_csv"]["seconds_median"] / r["rampart_parquet_1core"]["seconds_median"], 2)
os.makedirs("bench/results", exist_ok=True)
json.dump(res, open("bench/results/data.json", "w"), indent=1)
with open("bench/results/data.md", "w") as f:
    f.write(f"# Data profiling benchmark ({res['date']})\n\n")
    f.write(f"{rows} rows x {cols} float columns = {cells/1e6:g}M cells; CSV {res['csv_bytes']/2**20:.0f} MiB, Parquet {res['parquet_bytes']/2**20:.0f} MiB; {ncpu} CPUs; median of {len(runs['pandas_csv'])} interleaved rounds.\n\n")
    f.write("| run | seconds | M cells/s | peak RSS MiB |\n| --- | ---: | ---: | ---: |\n")
    for label, v in r.items():
        f.write(f"| {label} | {v['seconds_median']:.2f} | {v['mcells_per_s']} | {v['max_rss_mib']} |\n")
    f.write(f"\nrampart / pandas (CSV, one core): **{res['csv_1core_vs_pandas']}x**; all cores: {res['csv_all_vs_pandas']}x; Parquet one core vs pandas CSV: {res['parquet_1core_vs_pandas_csv']}x.\n")
    f.write("The *_big runs read a 4x longer table: their peak RSS against the 1x runs shows memory bounded by the sketches, not the rows.\n")
print(open("bench/results/data.md").read())
PY
