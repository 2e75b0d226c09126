#!/usr/bin/env bash
# Gateway benchmark: the same OIP v2 inference load, from one load generator
# (bench/loadgen), sent directly to a fast upstream, through Debian's nginx
# as a plain proxy_pass, and through Rampart with authentication (API key),
# authorization (Cedar), validation (declared inputs), rate limiting, the
# audit log and metrics all on.
#
# The proxy under test runs alone on CPU 1 (nginx: one worker; Rampart:
# GOMAXPROCS=1); the upstream and the load generator share CPU 0, so each
# proxy gets the same single core.
#
# Writes bench/results/gateway.json and bench/results/gateway.md.
# Environment: DURATION (s, default 10), ROUNDS (default 3), SOAK (s, default
# 300; 0 skips the memory soak), CONNS (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SOAK=${SOAK:-300}
CONNS=${CONNS:-32}

if ! command -v nginx >/dev/null; then
  echo "== installing nginx"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx
fi
command -v python3 >/dev/null || { echo "python3 needed for the summary"; exit 2; }

work=$(mktemp -d /tmp/rampart-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/rampart" ./cmd/rampart
go build -o "$work/loadgen" ./bench/loadgen
RAMPART="$work/rampart"; LOADGEN="$work/loadgen"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port); NGX_PORT=$(free_port); RP_PORT=$(free_port); ADM_PORT=$(free_port)

# A real OIP v2 answer for the demo model, served by the fast upstream.
body="$work/body.json"
python3 - "$body" <<'PY'
import json, sys
row = [13.54,14.36,87.46,566.3,0.09779,0.08129,0.06664,0.04781,0.1885,0.05766,0.2699,0.7886,2.058,23.56,0.008462,0.0146,0.02387,0.01315,0.0198,0.0023,15.11,19.26,99.7,711.2,0.144,0.1773,0.239,0.1288,0.2977,0.07259]
json.dump({"id": "bench", "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30], "data": row}]}, open(sys.argv[1], "w"))
PY
answer='{"model_name":"breast-cancer","model_version":"1","id":"bench","outputs":[{"name":"probabilities","datatype":"FP32","shape":[1,2],"data":[0.02,0.98]},{"name":"label","datatype":"BYTES","shape":[1],"data":["benign"]}]}'

mkdir -p "$work/nginx"
cat > "$work/nginx/upstream.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/upstream.pid;
error_log $work/nginx/upstream.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/ub; proxy_temp_path $work/nginx/up; fastcgi_temp_path $work/nginx/uf; uwsgi_temp_path $work/nginx/uu; scgi_temp_path $work/nginx/us;
  server {
    listen 127.0.0.1:$UP_PORT;
    location / { default_type application/json; return 200 '$answer'; }
  }
}
EOF
cat > "$work/nginx/proxy.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/proxy.pid;
error_log $work/nginx/proxy.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/pb; proxy_temp_path $work/nginx/pp; fastcgi_temp_path $work/nginx/pf; uwsgi_temp_path $work/nginx/pu; scgi_temp_path $work/nginx/ps;
  upstream model { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
taskset -c 0 nginx -c "$work/nginx/upstream.conf" & pids+=($!)
taskset -c 1 nginx -c "$work/nginx/proxy.conf" & pids+=($!)

cat > "$work/policies.cedar" <<'EOF'
@id("analysts-infer")
permit (principal in Rampart::Role::"analyst", action == Rampart::Action::"infer", resource is Rampart::Model)
when { resource.classification != "restricted" && principal.tenant == resource.tenant };
EOF
cat > "$work/rampart.yaml" <<EOF
listen: {address: "127.0.0.1:$RP_PORT"}
admin: {address: "127.0.0.1:$ADM_PORT", pprof: true}
log: {level: warn}
audit: {dir: audit}
identity: {api_keys: {db: keys.db}}
policies: [policies.cedar]
routes:
  - name: bench
    prefix: /v2
    protocol: oip
    upstream: "http://127.0.0.1:$UP_PORT"
    rate_limit: {per_second: 1000000, burst: 1000000}
    max_concurrency: 1024
    models:
      breast-cancer:
        attributes: {classification: public, tenant: oncology}
        inputs: [{name: features, datatype: FP32, shape: [-1, 30]}]
    stages:
      - type: tensor_range
        with: {min: -100000, max: 100000}
EOF
KEY=$("$RAMPART" keys create --db "$work/keys.db" --name bench --role analyst --tenant oncology --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
GOMAXPROCS=1 taskset -c 1 "$RAMPART" serve --config "$work/rampart.yaml" 2> "$work/rampart.log" & RP_PID=$!; pids+=($RP_PID)

for port in $UP_PORT $NGX_PORT $RP_PORT; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

path=/v2/models/breast-cancer/infer
direct="http://127.0.0.1:$UP_PORT$path"; viangx="http://127.0.0.1:$NGX_PORT$path"; viarp="http://127.0.0.1:$RP_PORT$path"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data @"$body" "$viarp")
[ "$code" = 200 ] || { echo "rampart answered $code"; cat "$work/rampart.log"; exit 1; }

lg() { taskset -c 0 "$LOADGEN" -body "$body" -c "$CONNS" -d "${DURATION}s" "$@"; }
res="$work/results.jsonl"; : > "$res"
echo "== peak throughput, $ROUNDS interleaved rounds of ${DURATION}s, $CONNS connections"
for r in $(seq "$ROUNDS"); do
  echo "{\"target\":\"direct\",\"round\":$r,\"r\":$(lg -mode peak -url "$direct")}" >> "$res"
  echo "{\"target\":\"nginx\",\"round\":$r,\"r\":$(lg -mode peak -url "$viangx")}" >> "$res"
  echo "{\"target\":\"rampart\",\"round\":$r,\"r\":$(lg -mode peak -url "$viarp" -H "Authorization: Bearer $KEY")}" >> "$res"
  tail -3 "$res"
done
RP_PEAK=$(python3 -c '
import json,sys,statistics
rs=[json.loads(l) for l in open(sys.argv[1])]
print(statistics.median(x["r"]["rps"] for x in rs if x["target"]=="rampart"))' "$res")
HALF=$(python3 -c "print(round($RP_PEAK/2))")
echo "== latency at half of Rampart's peak: $HALF req/s"
for r in $(seq "$ROUNDS"); do
  echo "{\"target\":\"direct-rate\",\"round\":$r,\"r\":$(lg -mode rate -rate "$HALF" -c 512 -url "$direct")}" >> "$res"
  echo "{\"target\":\"nginx-rate\",\"round\":$r,\"r\":$(lg -mode rate -rate "$HALF" -c 512 -url "$viangx")}" >> "$res"
  echo "{\"target\":\"rampart-rate\",\"round\":$r,\"r\":$(lg -mode rate -rate "$HALF" -c 512 -url "$viarp" -H "Authorization: Bearer $KEY" -overhead X-Rampart-Overhead-Us)}" >> "$res"
  tail -3 "$res"
done

# Where the time goes: a CPU profile of Rampart under peak load.
if curl -sf "http://127.0.0.1:$ADM_PORT/debug/pprof/" >/dev/null 2>&1; then
  (sleep 1; curl -s -o "$work/cpu.pprof" "http://127.0.0.1:$ADM_PORT/debug/pprof/profile?seconds=8") &
  lg -mode peak -url "$viarp" -H "Authorization: Bearer $KEY" > /dev/null
  wait $!
  go tool pprof -top -nodecount=25 "$work/rampart" "$work/cpu.pprof" > bench/results/gateway-profile.txt 2>/dev/null || true
fi

soak="$work/soak.txt"; : > "$soak"
if [ "$SOAK" -gt 0 ]; then
  echo "== memory soak: ${SOAK}s at $HALF req/s through Rampart"
  lg -mode rate -rate "$HALF" -c 512 -d "${SOAK}s" -url "$viarp" -H "Authorization: Bearer $KEY" > "$work/soak-load.json" &
  LGP=$!
  t0=$(date +%s)
  while kill -0 $LGP 2>/dev/null; do
    echo "$(( $(date +%s) - t0 )) $(awk '/VmRSS/ {print $2}' /proc/$RP_PID/status)" >> "$soak"; sleep 10
  done
fi
RECORDS=$(curl -s "http://127.0.0.1:$ADM_PORT/metrics" | awk '/^rampart_audit_written_total/ {print $2}')

python3 - "$res" "$soak" "$RP_PEAK" "$HALF" "${RECORDS:-0}" "$DURATION" "$ROUNDS" "$CONNS" <<'PY'
import json, statistics, sys, datetime, platform, os
res, soak, peak, half, records, dur, rounds, conns = sys.argv[1:9]
rs = [json.loads(l) for l in open(res)]
med = lambda t, k: statistics.median(x["r"][k] for x in rs if x["target"] == t)
out = {
  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  "machine": f"{os.cpu_count()} cores, {platform.machine()}; proxy pinned to CPU 1, upstream and load generator on CPU 0",
  "duration_s": int(dur), "rounds": int(rounds), "connections": int(conns),
  "direct_rps": med("direct", "rps"), "nginx_rps": med("nginx", "rps"), "rampart_rps": med("rampart", "rps"),
  "latency_rate_rps": int(half),
  "direct_p50_us": med("direct-rate", "p50_us"), "direct_p99_us": med("direct-rate", "p99_us"),
  "nginx_p50_us": med("nginx-rate", "p50_us"), "nginx_p99_us": med("nginx-rate", "p99_us"),
  "rampart_p50_us": med("rampart-rate", "p50_us"), "rampart_p99_us": med("rampart-rate", "p99_us"),
  "rampart_self_overhead_p50_us": med("rampart-rate", "overhead_p50_us"), "rampart_self_overhead_p99_us": med("rampart-rate", "overhead_p99_us"),
  "audit_records_written": float(records),
  "runs": rs,
}
out["rampart_vs_nginx"] = out["rampart_rps"] / out["nginx_rps"]
out["rampart_added_p50_us"] = out["rampart_p50_us"] - out["direct_p50_us"]
out["rampart_added_p99_us"] = out["rampart_p99_us"] - out["direct_p99_us"]
out["nginx_added_p50_us"] = out["nginx_p50_us"] - out["direct_p50_us"]
out["nginx_added_p99_us"] = out["nginx_p99_us"] - out["direct_p99_us"]
samples = [tuple(map(int, l.split())) for l in open(soak) if l.strip()]
if samples:
  out["soak_rss_kb"] = samples
  half_i = len(samples) // 2
  first, second = samples[1:half_i] or samples[:1], samples[half_i:]
  out["soak_rss_first_half_max_kb"] = max(s[1] for s in first)
  out["soak_rss_second_half_max_kb"] = max(s[1] for s in second)
os.makedirs("bench/results", exist_ok=True)
json.dump(out, open("bench/results/gateway.json", "w"), indent=2)
rows = [
  ("throughput, direct (req/s)", f'{out["direct_rps"]:.0f}'),
  ("throughput, nginx proxy_pass (req/s)", f'{out["nginx_rps"]:.0f}'),
  ("throughput, Rampart all controls on (req/s)", f'{out["rampart_rps"]:.0f}'),
  ("Rampart / nginx throughput (goal >= 0.7)", f'{out["rampart_vs_nginx"]:.2f}'),
  (f'added p50 at {half} req/s, Rampart (goal <= 100 us)', f'{out["rampart_added_p50_us"]:.0f} us'),
  (f'added p99 at {half} req/s, Rampart (goal <= 1000 us)', f'{out["rampart_added_p99_us"]:.0f} us'),
  (f'added p50 / p99 at {half} req/s, nginx', f'{out["nginx_added_p50_us"]:.0f} / {out["nginx_added_p99_us"]:.0f} us'),
  (f'Rampart self-reported overhead p50 / p99 at {half} req/s (X-Rampart-Overhead-Us)', f'{out["rampart_self_overhead_p50_us"]:.0f} / {out["rampart_self_overhead_p99_us"]:.0f} us'),
  (f'client-side p99 at {half} req/s, direct / nginx / Rampart', f'{out["direct_p99_us"]:.0f} / {out["nginx_p99_us"]:.0f} / {out["rampart_p99_us"]:.0f} us'),
]
if samples:
  rows.append(("RSS max, first / second half of soak", f'{out["soak_rss_first_half_max_kb"]} / {out["soak_rss_second_half_max_kb"]} KiB'))
with open("bench/results/gateway.md", "w") as f:
  f.write(f'# Gateway benchmark ({out["date"]})\n\n{out["machine"]}; medians of {rounds} interleaved rounds of {dur}s.\n\n| measure | value |\n| --- | --- |\n')
  for k, v in rows: f.write(f"| {k} | {v} |\n")
print(open("bench/results/gateway.md").read())
PY
