#!/usr/bin/env bash
# Part 4: start-up. `why5xx --version`, a zero-config run (`why5xx --format
# json`: discovery of whatever this host runs), and the binary's size.
#
#   bench/startup.sh
source "$(dirname "$0")/lib.sh"
need_all
bench_begin
W=$(why5xx_bin)

say "hyperfine: start-up"
hyperfine -N --warmup "$WARMUP" --runs "$(( RUNS < 30 ? 30 : RUNS ))" -i --export-json "$RESULTS/startup-hyperfine.json" \
  -n "why5xx --version" "$W --version" \
  -n "why5xx --format json (zero config)" "$W --format json" >&2
"$W" --format json > "$RESULTS/zero-config.json" 2>/dev/null || true
v=$(median_ms "$RESULTS/startup-hyperfine.json" 0)
z=$(median_ms "$RESULTS/startup-hyperfine.json" 1)
probes=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=max(r["probes"], key=lambda p:p["duration_ms"]); print("%d probes, slowest %s %d ms" % (len(r["probes"]), s["id"], s["duration_ms"]))' "$RESULTS/zero-config.json")
record startup "why5xx --version" "$v" ms "target < 5 ms"
record startup "why5xx --format json, no config" "$z" ms "target < 300 ms; $probes"
record startup "zero-config peak RSS" "$(python3 -c "print('%.1f' % ($(peak_rss_max_kb 3 "$W" --format json)/1024))")" MiB
size=$(stat -c %s "$W")
stripped=$(file -b "$W" | grep -q 'not stripped' && echo "not stripped" || echo stripped)
record startup "binary size ($stripped)" "$(python3 -c "print('%.1f' % ($size/1048576))")" MiB "target < 15 MiB"
