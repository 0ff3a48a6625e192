#!/usr/bin/env bash
# Part 1: a healthy nginx (https) + upstream. why5xx against the sequential
# hand-run checklist doing the same checks.
#
#   bench/healthy.sh            (WHY5XX=path to skip the build; RUNS=, WARMUP=)
source "$(dirname "$0")/lib.sh"
need_all
bench_begin
W=$(why5xx_bin)
lab_up
L=$BENCH_DIR/lab

# The process probe watches a process younger than 60 s for 500 ms (restart
# watch: a crash loop shows as a young process). A healthy server's app is
# older than that; wait until ours is, unless told not to.
if [ -z "${BENCH_YOUNG_OK:-}" ]; then
  age=$(( $(date +%s) - $(cat "$BENCH_DIR/lab.started") ))
  if [ "$age" -lt 62 ]; then
    say "waiting $((62 - age)) s until the upstream is older than the restart-watch window (60 s)"
    sleep $((62 - age))
  fi
fi

cat > "$BENCH_DIR/healthy.toml" <<TOML
[agent]
deadline = "10s"
timeout = "5s"
discover = false

[[endpoint]]
name = "public"
url = "https://shop.bench.test:$PUBLIC_PORT/"
resolve = "127.0.0.1"
ca_file = "$L/ca.pem"
expect_status = [200]

[[upstream]]
name = "app"
url = "http://127.0.0.1:$UPSTREAM_PORT/"
process = "$APP_MARKER"
log = "$L/app.log"

[proxy]
kind = "nginx"
config = "$L/conf/nginx.conf"
error_log = "$L/logs/error.log"

[[dns]]
name = "shop.bench.test"
server = "127.0.0.1:$DNS_PORT"
expect = ["127.0.0.1"]

[[tls]]
address = "127.0.0.1:$PUBLIC_PORT"
server_name = "shop.bench.test"

[host]
disks = ["/", "/tmp"]
TOML

# The same checks by hand, one after the other, the way the guide's checklist
# is run at 3 a.m.
cat > "$BENCH_DIR/checklist-healthy.sh" <<SH
#!/usr/bin/env bash
W='dns %{time_namelookup} connect %{time_connect} tls %{time_appconnect} ttfb %{time_starttransfer} total %{time_total} %{http_code}\n'
curl -sS -o /dev/null -m 5 --cacert $L/ca.pem --resolve shop.bench.test:$PUBLIC_PORT:127.0.0.1 -w "\$W" https://shop.bench.test:$PUBLIC_PORT/
curl -sS -o /dev/null -m 5 -w "\$W" http://127.0.0.1:$UPSTREAM_PORT/
dig +short +time=5 +tries=1 @127.0.0.1 -p $DNS_PORT shop.bench.test A
dig +short +time=5 +tries=1 @127.0.0.1 -p $DNS_PORT shop.bench.test AAAA
openssl s_client -connect 127.0.0.1:$PUBLIC_PORT -servername shop.bench.test -CAfile $L/ca.pem </dev/null 2>/dev/null | openssl x509 -noout -enddate
df -h / /tmp
df -i / /tmp
ss -ltnp
pgrep -af $APP_MARKER
tail -n 200 $L/logs/error.log | grep -cE 'error|crit|alert|emerg' || true
tail -n 200 $L/app.log | grep -c Traceback || true
SH
chmod +x "$BENCH_DIR/checklist-healthy.sh"

say "sanity: why5xx must call this healthy"
"$W" --config "$BENCH_DIR/healthy.toml" --format json > "$RESULTS/healthy.json" || {
  echo "why5xx did not exit 0 on the healthy lab:" >&2
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); [print(" ", f["cause"], f["severity"]) for f in r["findings"]]' "$RESULTS/healthy.json" >&2
}
"$BENCH_DIR/checklist-healthy.sh" > "$RESULTS/checklist-healthy.txt"

say "hyperfine: healthy"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" -i --export-json "$RESULTS/healthy-hyperfine.json" \
  -n why5xx "$W --config $BENCH_DIR/healthy.toml --format json" \
  -n checklist "$BENCH_DIR/checklist-healthy.sh" >&2

# Slowest probe vs the run, from why5xx's own report, over several runs.
for i in $(seq "$RUNS"); do
  "$W" --config "$BENCH_DIR/healthy.toml" --format json 2>/dev/null || true
done | python3 -c '
import json, sys, statistics
dec = json.JSONDecoder(); text = sys.stdin.read(); i = 0; runs = []
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    r, i = dec.raw_decode(text, i); runs.append(r)
rows = [(r["duration_ms"], max(p["duration_ms"] for p in r["probes"]),
         max(r["probes"], key=lambda p: p["duration_ms"])["id"]) for r in runs]
run = statistics.median(x[0] for x in rows)
slow = statistics.median(x[1] for x in rows)
ids = sorted(set(x[2] for x in rows))
print("%.1f\t%.1f\t%s" % (run, slow, ",".join(ids)))
' > "$BENCH_DIR/healthy-probes.tsv"
IFS=$'\t' read -r run_ms slow_ms slow_ids < "$BENCH_DIR/healthy-probes.tsv"

w=$(median_ms "$RESULTS/healthy-hyperfine.json" 0)
c=$(median_ms "$RESULTS/healthy-hyperfine.json" 1)
budget=$(python3 -c "print('%.1f' % (1.2*$slow_ms+20))")
rss=$(peak_rss_max_kb 3 "$W" --config "$BENCH_DIR/healthy.toml" --format json)
record healthy "why5xx (wall, median)" "$w" ms "ratio vs checklist $(ratio "$w" "$c")"
record healthy "checklist (curl x2, dig x2, openssl, df x2, ss, pgrep, tail x2)" "$c" ms
record healthy "why5xx report duration_ms (median)" "$run_ms" ms "target <= 1.2 x slowest probe + 20 ms = $budget ms"
record healthy "slowest probe duration_ms (median)" "$slow_ms" ms "$slow_ids"
record healthy "why5xx peak RSS" "$(python3 -c "print('%.1f' % ($rss/1024))")" MiB
