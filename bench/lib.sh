# Shared helpers of the why5xx benchmarks. Sourced, never run.
#
# Everything listens on 127.0.0.1 only. State (configs, certificates, pids,
# logs, hyperfine JSON) lives in $BENCH_DIR, results in $BENCH_DIR/results.
set -euo pipefail

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/why5xx-benchlab}
RESULTS=$BENCH_DIR/results
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
mkdir -p "$BENCH_DIR" "$RESULTS"

# Ports of the lab (override when taken).
PUBLIC_PORT=${PUBLIC_PORT:-18443}     # nginx, https
UPSTREAM_PORT=${UPSTREAM_PORT:-18080} # app.py --mode ok
DNS_PORT=${DNS_PORT:-18053}           # dns.py (udp + tcp)
BLACKBOX_PORT=${BLACKBOX_PORT:-19115} # blackbox_exporter
HANG_BASE=${HANG_BASE:-18100}         # 5 ports that accept and never answer: 18100..18104
SCALE_BASE=${SCALE_BASE:-18200}       # nginx with 4 ports answering 200: 18200..18203
APP_MARKER=why5xx-bench-app

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# --- what the benchmarks need -------------------------------------------------

need() {
  # need CMD DEBIAN-PACKAGE: install the package when CMD is missing.
  local missing=()
  while [ $# -gt 0 ]; do
    command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || missing+=("$2")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing: ${missing[*]}"
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need_all() {
  need nginx nginx-light hyperfine hyperfine curl curl openssl openssl \
    dig dnsutils ss iproute2 pgrep procps /usr/bin/time time python3 python3 \
    prometheus-blackbox-exporter prometheus-blackbox-exporter \
    /usr/lib/nagios/plugins/check_http monitoring-plugins-basic
}

CHECK_HTTP=/usr/lib/nagios/plugins/check_http

# The binary under test: $WHY5XX, else a release build in a target dir of
# our own (so the shared target/ of other builds is not locked).
why5xx_bin() {
  if [ -n "${WHY5XX:-}" ]; then
    echo "$WHY5XX"
    return
  fi
  local target=${CARGO_TARGET_DIR:-/tmp/why5xx-bench-target}
  local src=$REPO
  if [ -n "${BENCH_REV:-}" ]; then
    # A committed revision, exported clean (the working tree may be mid-edit),
    # built in a target dir of its own: cargo decides freshness by mtimes,
    # so two source trees must never share one.
    local rev
    rev=$(git -C "$REPO" rev-parse --short "$BENCH_REV")
    src=$BENCH_DIR/src-$rev
    target=$target/rev-$rev
    if [ ! -d "$src" ]; then
      mkdir -p "$src"
      git -C "$REPO" archive "$BENCH_REV" | tar -x -m -C "$src" # -m: fresh mtimes, or cargo reuses a stale build
    fi
  fi
  if [ -z "${BENCH_NO_BUILD:-}" ] || [ ! -x "$target/release/why5xx" ]; then
    say "cargo build --release in $src (CARGO_TARGET_DIR=$target)"
    (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release --locked -q) >&2
  fi
  echo "$target/release/why5xx"
}

# --- hyperfine results --------------------------------------------------------

# median_ms FILE.json INDEX: the median of command INDEX in milliseconds.
median_ms() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.1f" % (r["median"]*1000))' "$1" "$2"
}

# record PART NAME VALUE UNIT [NOTE]: one line of the final table.
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >> "$RESULTS/table.tsv"
}

ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.2f" % (a/b) if b else "-")' "$1" "$2"; }

# peak_rss_kb CMD...: run CMD under /usr/bin/time -v, print its peak RSS (KiB).
peak_rss_kb() {
  /usr/bin/time -v "$@" 2> "$BENCH_DIR/time.txt" > /dev/null || true
  awk -F': ' '/Maximum resident set size/ {print $2}' "$BENCH_DIR/time.txt"
}

# max of N peak RSS measurements
peak_rss_max_kb() {
  local n=$1; shift
  local best=0 v
  for _ in $(seq "$n"); do
    v=$(peak_rss_kb "$@")
    [ "$v" -gt "$best" ] && best=$v
  done
  echo "$best"
}

wait_port() { # wait_port PORT: until 127.0.0.1:PORT accepts (10 s)
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

start_bg() { # start_bg NAME CMD...: start in its own process group, pid in $BENCH_DIR/NAME.pid
  local name=$1; shift
  setsid "$@" > "$BENCH_DIR/$name.out" 2>&1 < /dev/null &
  echo $! > "$BENCH_DIR/$name.pid"
}

stop_bg() { # stop_bg NAME: kill that process group
  local f=$BENCH_DIR/$1.pid
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$f"
}

running() { local f=$BENCH_DIR/$1.pid; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# --- the healthy lab: nginx (https) -> app.py --mode ok, plus a DNS server --

lab_up() {
  running lab-nginx && running lab-app && running lab-dns && return 0
  lab_down
  local L=$BENCH_DIR/lab
  rm -rf "$L"
  mkdir -p "$L/conf" "$L/logs" "$L/tmp"
  say "lab: TLS certificate, app.py --mode ok on :$UPSTREAM_PORT, nginx https on :$PUBLIC_PORT, DNS on :$DNS_PORT"
  # A private CA (ca.pem, what clients trust) and a server certificate it signed.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=why5xx bench CA" -keyout "$L/ca-key.pem" -out "$L/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=shop.bench.test" \
    -keyout "$L/key.pem" -out "$L/server.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:shop.bench.test,DNS:localhost,IP:127.0.0.1\n' > "$L/server.ext"
  openssl x509 -req -in "$L/server.csr" -CA "$L/ca.pem" -CAkey "$L/ca-key.pem" -CAcreateserial \
    -days 30 -extfile "$L/server.ext" -out "$L/cert.pem" 2>/dev/null
  cat > "$L/conf/nginx.conf" <<NGINX
daemon off;
master_process on;
worker_processes 1;
pid $L/logs/nginx.pid;
error_log $L/logs/error.log info;
events { worker_connections 256; }
http {
  access_log $L/logs/access.log;
  client_body_temp_path $L/tmp/body; proxy_temp_path $L/tmp/proxy;
  fastcgi_temp_path $L/tmp/fastcgi; uwsgi_temp_path $L/tmp/uwsgi; scgi_temp_path $L/tmp/scgi;
  # No upstream keepalive: on a reused connection Python's http.server
  # (header and body in two writes) meets Nagle and nginx's delayed ACK, and
  # the first byte waits 40 ms — a lab artefact that would swamp the timing.
  upstream app { server 127.0.0.1:$UPSTREAM_PORT; }
  server {
    listen 127.0.0.1:$PUBLIC_PORT ssl;
    server_name shop.bench.test localhost;
    ssl_certificate $L/cert.pem;
    ssl_certificate_key $L/key.pem;
    location / {
      proxy_pass http://app;
    }
  }
}
NGINX
  start_bg lab-app python3 "$REPO/tests/lab/app.py" --name "$APP_MARKER" \
    --listen "127.0.0.1:$UPSTREAM_PORT" --log "$L/app.log" --mode ok
  start_bg lab-nginx nginx -p "$L" -c "$L/conf/nginx.conf" -e "$L/logs/error.log"
  start_bg lab-dns python3 "$BENCH_SRC/dns.py" 127.0.0.1 "$DNS_PORT"
  date +%s > "$BENCH_DIR/lab.started"
  wait_port "$UPSTREAM_PORT"
  wait_port "$PUBLIC_PORT"
  wait_port "$DNS_PORT"
}

lab_down() {
  stop_bg lab-nginx
  stop_bg lab-app
  stop_bg lab-dns
}

# --- blackbox_exporter on loopback ----------------------------------------------

blackbox_up() {
  running blackbox && return 0
  cat > "$BENCH_DIR/blackbox.yml" <<YML
modules:
  http_2s:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  http_5s:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
YML
  start_bg blackbox prometheus-blackbox-exporter --config.file="$BENCH_DIR/blackbox.yml" \
    --web.listen-address="127.0.0.1:$BLACKBOX_PORT" --log.level=warn
  wait_port "$BLACKBOX_PORT"
}

blackbox_down() { stop_bg blackbox; }

# the blackbox_exporter's peak RSS so far (KiB)
blackbox_hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$(cat "$BENCH_DIR/blackbox.pid")/status"; }

machine_line() {
  echo "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# --- one part alone, or all of them from run.sh ------------------------------

bench_cleanup() {
  stop_bg blackbox
  stop_bg hang
  stop_bg scale-nginx
  stop_bg conns
  lab_down
}

print_table() {
  [ -s "$RESULTS/table.tsv" ] || return 0
  echo
  echo "why5xx benchmarks — $(machine_line)"
  python3 - "$RESULTS/table.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
w = [max(len(r[i]) for r in rows) for i in range(4)]
part = None
for r in rows:
    if r[0] != part:
        part = r[0]
        print("\n[%s]" % part)
    print("  %-*s  %*s %-3s  %s" % (w[1], r[1], w[2], r[2], r[3], r[4]))
PY
  echo
  echo "hyperfine JSON and reports: $RESULTS"
}

# Called by each part: alone, it owns the table and cleans up after itself.
bench_begin() {
  if [ -z "${BENCH_NESTED:-}" ]; then
    : > "$RESULTS/table.tsv"
    echo "$(date -u +%FT%TZ)	$(machine_line)" > "$RESULTS/machine.txt"
    trap 'print_table; bench_cleanup' EXIT
  fi
}
