#!/usr/bin/env bash
# Every why5xx benchmark in one run, side by side with its peers, then a table.
#
#   bench/run.sh                         build (CARGO_TARGET_DIR, default /tmp/why5xx-bench-target) and run all
#   WHY5XX=/path/to/why5xx bench/run.sh  use that binary
#   BENCH_REV=HEAD bench/run.sh          build a committed revision (git archive), not the working tree
#   RUNS=20 WARMUP=3 bench/run.sh        more hyperfine runs
#   PARTS="startup hanging" bench/run.sh only some parts
#
# Parts (each also runs alone): startup.sh, hanging.sh, scale.sh, sockets.sh, healthy.sh.
# Results: $BENCH_DIR (default /tmp/why5xx-benchlab)/results: table.tsv and the
# hyperfine JSON of every comparison. Traffic goes to 127.0.0.1 only.
source "$(dirname "$0")/lib.sh"
need_all
WHY5XX=$(why5xx_bin)
export WHY5XX BENCH_DIR RUNS WARMUP
export BENCH_NESTED=1
: > "$RESULTS/table.tsv"
echo "$(date -u +%FT%TZ)	$(machine_line)" > "$RESULTS/machine.txt"
trap 'print_table; bench_cleanup' EXIT

# The healthy lab starts first: its upstream must be older than the process
# probe's restart-watch window (60 s) by the time the healthy part runs last.
lab_up
for part in ${PARTS:-startup hanging scale sockets healthy}; do
  say "part: $part   (load $(cut -d' ' -f1-3 /proc/loadavg))"
  bash "$BENCH_SRC/$part.sh"
done
