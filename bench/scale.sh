#!/usr/bin/env bash
# Part 3: 10, 100 and 1,000 HTTP targets on loopback (one nginx, 4 ports,
# distinct paths). why5xx (concurrency 64) against blackbox_exporter probed
# for each target with xargs -P 64 curl .../probe?target=...
#
#   bench/scale.sh            (SIZES="10 100 1000" by default)
source "$(dirname "$0")/lib.sh"
need_all
bench_begin
W=$(why5xx_bin)
SIZES=${SIZES:-10 100 1000}
S=$BENCH_DIR/scale
if ! running scale-nginx; then
  rm -rf "$S"; mkdir -p "$S/conf" "$S/logs" "$S/tmp"
  listens=""
  for p in $(seq "$SCALE_BASE" $((SCALE_BASE + 3))); do listens="$listens listen 127.0.0.1:$p;"; done
  cat > "$S/conf/nginx.conf" <<NGINX
daemon off;
master_process on;
worker_processes 2;
pid $S/logs/nginx.pid;
error_log $S/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $S/tmp/body; proxy_temp_path $S/tmp/proxy;
  fastcgi_temp_path $S/tmp/fastcgi; uwsgi_temp_path $S/tmp/uwsgi; scgi_temp_path $S/tmp/scgi;
  server { $listens location / { default_type text/plain; return 200 "ok\n"; } }
}
NGINX
  start_bg scale-nginx nginx -p "$S" -c "$S/conf/nginx.conf" -e "$S/logs/error.log"
  wait_port "$SCALE_BASE"
fi
blackbox_up

for n in $SIZES; do
  urls=$BENCH_DIR/scale-$n.txt
  for i in $(seq 0 $((n - 1))); do
    echo "http://127.0.0.1:$((SCALE_BASE + i % 4))/t/$i"
  done > "$urls"
  {
    printf '[agent]\ndeadline = "10s"\ntimeout = "5s"\nconcurrency = 64\ndiscover = false\n\n[host]\ndisks = ["/"]\n'
    i=0
    while read -r u; do
      printf '\n[[endpoint]]\nname = "t%s"\nurl = "%s"\n' "$i" "$u"
      i=$((i + 1))
    done < "$urls"
  } > "$BENCH_DIR/scale-$n.toml"
  cat > "$BENCH_DIR/blackbox-scale-$n.sh" <<SH
#!/usr/bin/env bash
xargs -P64 -I{} curl -s -o /dev/null "http://127.0.0.1:$BLACKBOX_PORT/probe?module=http_5s&target={}" < $urls
SH
  # The same probes from one client process (no fork per target): what a
  # Prometheus scrape costs the exporter without curl's start-up.
  awk -v bb="http://127.0.0.1:$BLACKBOX_PORT/probe?module=http_5s&target=" \
    '{ printf "url = \"%s%s\"\noutput = /dev/null\n", bb, $0 }' "$urls" > "$BENCH_DIR/blackbox-scale-$n.curlrc"
  cat > "$BENCH_DIR/blackbox-parallel-$n.sh" <<SH
#!/usr/bin/env bash
curl -s --no-progress-meter -Z --parallel-max 64 -K $BENCH_DIR/blackbox-scale-$n.curlrc
SH
  chmod +x "$BENCH_DIR/blackbox-scale-$n.sh" "$BENCH_DIR/blackbox-parallel-$n.sh"

  "$W" --config "$BENCH_DIR/scale-$n.toml" --format json > "$RESULTS/scale-$n.json" \
    || echo "why5xx: $n targets: exit $? (see $RESULTS/scale-$n.json)" >&2

  say "hyperfine: $n targets"
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" -i --export-json "$RESULTS/scale-$n-hyperfine.json" \
    -n "why5xx $n" "$W --config $BENCH_DIR/scale-$n.toml --format json" \
    -n "blackbox $n (xargs -P64 curl)" "$BENCH_DIR/blackbox-scale-$n.sh" \
    -n "blackbox $n (one curl -Z --parallel-max 64)" "$BENCH_DIR/blackbox-parallel-$n.sh" >&2
  w=$(median_ms "$RESULTS/scale-$n-hyperfine.json" 0)
  b=$(median_ms "$RESULTS/scale-$n-hyperfine.json" 1)
  bz=$(median_ms "$RESULTS/scale-$n-hyperfine.json" 2)
  rss=$(peak_rss_max_kb 3 "$W" --config "$BENCH_DIR/scale-$n.toml" --format json)
  note=""
  [ "$n" = 1000 ] && note="target < 2000 ms, < 60 MiB"
  record scale "why5xx, $n targets (wall, median)" "$w" ms "$note"
  record scale "blackbox_exporter + xargs -P64 curl, $n targets" "$b" ms "why5xx / this = $(ratio "$w" "$b")"
  record scale "blackbox_exporter + one curl -Z (64 parallel), $n targets" "$bz" ms "why5xx / this = $(ratio "$w" "$bz")"
  record scale "why5xx, $n targets, peak RSS" "$(python3 -c "print('%.1f' % ($rss/1024))")" MiB
done
record scale "blackbox_exporter daemon peak RSS (VmHWM, whole run)" "$(python3 -c "print('%.1f' % ($(blackbox_hwm_kb)/1024))")" MiB
