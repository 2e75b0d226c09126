#!/usr/bin/env bash
# Scanner benchmark: `rampart scan` on one core (GOMAXPROCS=1, --workers 1)
# over real files made with Debian's python3-torch:
#   - a tensor-heavy PyTorch zip checkpoint of SIZE_GB GiB,
#   - a legacy (non-zip) torch.save of 1 GiB of tensor data,
#   - a pickle of two million small objects,
# beside sha256sum of the same checkpoint (the hashing that signing adds)
# and the pickle emulator's Go benchmark on a dense pickle.
# Writes bench/results/scan.json and bench/results/scan.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
SIZE_GB=${SIZE_GB:-2}
work=$(mktemp -d /tmp/rampart-scanbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "python3-torch is needed (apt-get install python3-torch)"; exit 2; }
go build -o "$work/rampart" ./cmd/rampart

echo "== making the samples in $work"
/usr/bin/python3 - "$work" "$SIZE_GB" <<'PY'
import pickle, sys, torch
work, gb = sys.argv[1], float(sys.argv[2])
torch.manual_seed(0)
n = max(int(gb * 16), 1)  # tensors of 16M floats: 64 MiB each
torch.save({f"layer{i}.weight": torch.randn(16 << 20) for i in range(n)}, f"{work}/big.pt")
torch.save({f"w{i}": torch.randn(16 << 20) for i in range(16)}, f"{work}/legacy.pt", _use_new_zipfile_serialization=False)
with open(f"{work}/small_objects.pkl", "wb") as f:
    pickle.dump([(i, float(i), str(i % 1000)) for i in range(2_000_000)], f, protocol=4)
PY
ls -l "$work"

measure() { # name file [flags] -> "seconds maxrss_kb verdict"
  local out
  out=$( { /usr/bin/time -f '%e %M' env GOMAXPROCS=1 "$work/rampart" scan --workers 1 --format json "${@:3}" "$2" > "$work/$1.json"; } 2>&1 | tail -1) || true
  echo "$out $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["verdict"])' "$work/$1.json")"
}
# Warm the page cache so both tools read from memory, then take the best of 3.
cat "$work/big.pt" > /dev/null
best() { sort -n | head -1; }
SCAN=$(for i in 1 2 3; do measure big "$work/big.pt" --digest=false; done | best)
SCANHASH=$(for i in 1 2 3; do measure big "$work/big.pt" --digest; done | best)
SHA=$(for i in 1 2 3; do /usr/bin/time -f '%e' sha256sum "$work/big.pt" 2>&1 >/dev/null | tail -1; done | best)
LEGACY=$(measure legacy "$work/legacy.pt")
SMALL=$(measure small "$work/small_objects.pkl")
BENCH=$(go test -run '^$' -bench 'BenchmarkEmulate' -benchtime 3x ./internal/modelscan/pickle 2>&1 | grep -E '^Benchmark' || true)
echo "$BENCH"

python3 - "$work" "$SCAN" "$SHA" "$LEGACY" "$SMALL" "$BENCH" "$SCANHASH" <<'PY'
import json, os, re, sys, datetime
work, scan, sha, legacy, small, bench, scanhash = sys.argv[1:8]
size = os.path.getsize(f"{work}/big.pt")
def parse(s):
    t, rss, verdict = s.split()
    return float(t), int(rss), verdict
st, srss, sv = parse(scan)
ht, hrss, hv = parse(scanhash)
lt, lrss, lv = parse(legacy)
mt, mrss, mv = parse(small)
sha_s = float(sha)
ops = {}
for line in bench.splitlines():
    m = re.search(r'^(Benchmark\S+).*?([\d.]+) Mops/s', line) or re.search(r'^(Benchmark\S+).*?([\d.e+]+) opcodes/s', line)
    if m:
        ops[m.group(1)] = float(m.group(2))
out = {
  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  "checkpoint_bytes": size,
  "scan_seconds": st, "scan_gb_per_s": size / st / 1e9, "scan_max_rss_kb": srss, "scan_verdict": sv,
  "scan_and_sha256_seconds": ht, "scan_and_sha256_gb_per_s": size / ht / 1e9, "scan_and_sha256_max_rss_kb": hrss,
  "sha256sum_seconds": sha_s, "sha256_gb_per_s": size / sha_s / 1e9,
  "legacy_1gib_seconds": lt, "legacy_max_rss_kb": lrss, "legacy_verdict": lv,
  "two_million_objects_seconds": mt, "two_million_objects_max_rss_kb": mrss, "two_million_objects_verdict": mv,
  "pickle_benchmarks": bench.splitlines(),
}
os.makedirs("bench/results", exist_ok=True)
json.dump(out, open("bench/results/scan.json", "w"), indent=2)
rows = [
  (f"scan of a {size/2**30:.1f} GiB PyTorch zip checkpoint, one core", f"{out['scan_gb_per_s']:.2f} GB/s, {srss//1024} MiB peak RSS, {sv}"),
  ("scan plus SHA-256 of every byte (--digest), one core (goal >= 1 GB/s)", f"{out['scan_and_sha256_gb_per_s']:.2f} GB/s, {hrss//1024} MiB peak RSS"),
  ("coreutils sha256sum of the same file, for reference", f"{out['sha256_gb_per_s']:.2f} GB/s"),
  ("legacy torch.save of 1 GiB of tensors", f"{lt:.2f} s, {lrss//1024} MiB peak RSS, {lv}"),
  ("pickle of two million small objects", f"{mt:.2f} s, {mrss//1024} MiB peak RSS, {mv}"),
]
with open("bench/results/scan.md", "w") as f:
    f.write(f"# Scanner benchmark ({out['date']})\n\n| measure | value |\n| --- | --- |\n")
    for k, v in rows: f.write(f"| {k} | {v} |\n")
    f.write("\nPickle emulator (go test -bench BenchmarkEmulate):\n\n```\n" + bench + "\n```\n")
print(open("bench/results/scan.md").read())
PY
