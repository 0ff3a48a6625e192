#!/usr/bin/env bash
# Part 5: the socket table on a busy host. The port probe (who listens on the
# upstream's port) with CONNS established loopback connections held open
# (default 0 and 15000), against `ss -ltnp` doing the same lookup.
#
#   bench/sockets.sh            (CONNS_LIST="0 15000")
source "$(dirname "$0")/lib.sh"
need_all
bench_begin
W=$(why5xx_bin)
CONNS_PORT=${CONNS_PORT:-18300}
cat > "$BENCH_DIR/port.toml" <<TOML
[agent]
discover = false
[[upstream]]
name = "busy"
url = "http://127.0.0.1:$CONNS_PORT/"
timeout = "2s"
[host]
disks = ["/"]
TOML
for n in ${CONNS_LIST:-0 15000}; do
  stop_bg conns
  start_bg conns python3 "$BENCH_SRC/conns.py" "$CONNS_PORT" "$n"
  for _ in $(seq 600); do grep -q ready "$BENCH_DIR/conns.out" 2>/dev/null && break; sleep 0.1; done
  tcp_lines=$(($(wc -l < /proc/net/tcp) - 1))
  for i in $(seq "$RUNS"); do
    "$W" --config "$BENCH_DIR/port.toml" --format json 2>/dev/null || true
  done | python3 -c '
import json, sys, statistics
dec = json.JSONDecoder(); text = sys.stdin.read(); i = 0; port = []; run = []
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    r, i = dec.raw_decode(text, i)
    run.append(r["duration_ms"])
    port += [p["duration_ms"] for p in r["probes"] if p["id"].startswith("port:")]
print("%.1f\t%.1f" % (statistics.median(port), statistics.median(run)))
' > "$BENCH_DIR/port-$n.tsv"
  IFS=$'\t' read -r port_ms run_ms < "$BENCH_DIR/port-$n.tsv"
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" -i --export-json "$RESULTS/sockets-$n-hyperfine.json" \
    -n "why5xx (port probe) $n conns" "$W --config $BENCH_DIR/port.toml --format json" \
    -n "ss -ltnp $n conns" "ss -ltnp sport = :$CONNS_PORT" >&2
  w=$(median_ms "$RESULTS/sockets-$n-hyperfine.json" 0)
  s=$(median_ms "$RESULTS/sockets-$n-hyperfine.json" 1)
  what="$n held + $tcp_lines in /proc/net/tcp"
  record sockets "port probe duration_ms ($what)" "$port_ms" ms "whole run $run_ms ms"
  record sockets "why5xx wall ($what)" "$w" ms "why5xx / ss = $(ratio "$w" "$s")"
  record sockets "ss -ltnp sport = :PORT ($what)" "$s" ms
done
stop_bg conns
