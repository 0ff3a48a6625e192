#!/usr/bin/env bash
# Part 2: five dependencies that accept and never answer, 2 s timeout each.
# why5xx against the checklist (curl -m 2, one after the other), against
# blackbox_exporter (five /probe calls at once) and against check_http -t 2
# (one after the other, as Nagios runs services; and with xargs -P5).
#
#   bench/hanging.sh
source "$(dirname "$0")/lib.sh"
need_all
bench_begin
W=$(why5xx_bin)
ports=$(seq "$HANG_BASE" $((HANG_BASE + 4)))
if ! running hang; then
  start_bg hang python3 "$BENCH_SRC/hang.py" 127.0.0.1 $ports
  for p in $ports; do wait_port "$p"; done
fi
blackbox_up

{
  printf '[agent]\ndeadline = "10s"\ntimeout = "2s"\ndiscover = false\n\n[host]\ndisks = ["/"]\n'
  for p in $ports; do
    printf '\n[[dependency]]\nname = "dep%s"\nurl = "http://127.0.0.1:%s/health"\ntimeout = "2s"\n' "$p" "$p"
  done
} > "$BENCH_DIR/hanging.toml"

printf '%s\n' $ports > "$BENCH_DIR/hang-ports.txt"
cat > "$BENCH_DIR/checklist-hanging.sh" <<SH
#!/usr/bin/env bash
for p in $(echo $ports); do curl -sS -o /dev/null -m 2 -w '%{http_code} %{time_total}\n' http://127.0.0.1:\$p/health; done
exit 0
SH
cat > "$BENCH_DIR/blackbox-hanging.sh" <<SH
#!/usr/bin/env bash
xargs -P5 -I{} curl -s -o /dev/null "http://127.0.0.1:$BLACKBOX_PORT/probe?module=http_2s&target=http://127.0.0.1:{}/health" < $BENCH_DIR/hang-ports.txt
SH
cat > "$BENCH_DIR/check_http-seq.sh" <<SH
#!/usr/bin/env bash
for p in $(echo $ports); do $CHECK_HTTP -H 127.0.0.1 -p \$p -u /health -t 2 >/dev/null; done
exit 0
SH
cat > "$BENCH_DIR/check_http-par.sh" <<SH
#!/usr/bin/env bash
xargs -P5 -I{} $CHECK_HTTP -H 127.0.0.1 -p {} -u /health -t 2 < $BENCH_DIR/hang-ports.txt >/dev/null
exit 0
SH
chmod +x "$BENCH_DIR"/checklist-hanging.sh "$BENCH_DIR"/blackbox-hanging.sh "$BENCH_DIR"/check_http-*.sh

"$W" --config "$BENCH_DIR/hanging.toml" --format json > "$RESULTS/hanging.json" || true

say "hyperfine: hanging dependencies"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" -i --export-json "$RESULTS/hanging-hyperfine.json" \
  -n why5xx "$W --config $BENCH_DIR/hanging.toml --format json" \
  -n "checklist (curl -m 2, sequential)" "$BENCH_DIR/checklist-hanging.sh" \
  -n "blackbox_exporter (5 concurrent /probe)" "$BENCH_DIR/blackbox-hanging.sh" \
  -n "check_http -t 2 (sequential)" "$BENCH_DIR/check_http-seq.sh" \
  -n "check_http -t 2 (xargs -P5)" "$BENCH_DIR/check_http-par.sh" >&2

w=$(median_ms "$RESULTS/hanging-hyperfine.json" 0)
record hanging "why5xx (wall, median)" "$w" ms "target <= 2100 ms"
i=1
for name in "checklist curl -m 2 sequential" "blackbox_exporter 5 concurrent" "check_http -t 2 sequential" "check_http -t 2 xargs -P5"; do
  v=$(median_ms "$RESULTS/hanging-hyperfine.json" $i)
  record hanging "$name" "$v" ms "why5xx / this = $(ratio "$w" "$v")"
  i=$((i + 1))
done
