#!/usr/bin/env bash
# Peak memory of the release binary against each hostile server
# (bench/hostile_servers.py on 127.0.0.1), measured with /usr/bin/time -v.
# Prints one line per case: the case, max RSS in MB, exit code, wall time,
# and whether it stayed under the target (50 MB).
#
#   bench/hostile-memory.sh [path/to/why5xx]
#
# Default binary: $CARGO_TARGET_DIR/release/why5xx, built beforehand with
#   CARGO_TARGET_DIR=/tmp/why5xx-bench cargo build --release
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-${CARGO_TARGET_DIR:-/tmp/why5xx-bench}/release/why5xx}
PORT=${HOSTILE_PORT:-18911}
TARGET_MB=${TARGET_MB:-50}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x $BIN ]] || { echo "no binary at $BIN (build it first)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

config() {
  # config CASE: the [[...]] entry probing the hostile server of CASE.
  local addr=127.0.0.1:$PORT
  case $1 in
    endless-body|dribbled-headers|random-bytes|megabyte-headers)
      printf '[[endpoint]]\nname = "%s"\nurl = "http://%s/"\n' "$1" "$addr" ;;
    redirect-loop)
      printf '[[endpoint]]\nname = "%s"\nurl = "http://%s/"\nfollow_redirects = 20\n' "$1" "$addr" ;;
    tls-garbage|tls-reset)
      printf '[[endpoint]]\nname = "%s"\nurl = "https://%s/"\n[[tls]]\naddress = "%s"\nserver_name = "localhost"\n' "$1" "$addr" "$addr" ;;
    dns-garbage|dns-truncated)
      printf '[[dns]]\nname = "hostile.example"\nserver = "%s"\n' "$addr" ;;
    redis-endless)
      printf '[[dependency]]\nname = "redis"\nurl = "redis://%s"\n' "$addr" ;;
    postgres-endless)
      printf '[[dependency]]\nname = "postgres"\nurl = "postgres://%s/db"\n' "$addr" ;;
  esac
}

wait_port() {
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.1); sys.exit(s.connect_ex(('127.0.0.1', $PORT)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

printf '%-18s %8s %5s %7s  %s\n' case max_rss exit wall "under ${TARGET_MB} MB"
worst=0
for c in endless-body dribbled-headers random-bytes megabyte-headers redirect-loop \
         tls-garbage tls-reset dns-garbage dns-truncated redis-endless postgres-endless; do
  python3 "$HERE/hostile_servers.py" "$c" "$PORT" &
  SERVER_PID=$!
  wait_port || { echo "$c: server did not start" >&2; exit 1; }
  { printf '[agent]\ndeadline = "10s"\ntimeout = "5s"\ndiscover = false\n[host]\ndisks = ["/"]\n'
    config "$c"; } > "$WORK/$c.toml"
  code=0
  /usr/bin/time -v -o "$WORK/$c.time" "$BIN" --config "$WORK/$c.toml" --format json \
    > "$WORK/$c.json" 2> "$WORK/$c.err" || code=$?
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$c.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/$c.time")
  mb=$(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')
  ok=$(awk -v k="$kb" -v t="$TARGET_MB" 'BEGIN {print (k / 1024 < t) ? "yes" : "NO"}')
  [[ $ok == yes ]] || worst=1
  printf '%-18s %5s MB %5s %7s  %s\n' "$c" "$mb" "$code" "$wall" "$ok"
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
done
exit "$worst"
