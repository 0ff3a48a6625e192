#!/usr/bin/env python3
"""The upstream application of the why5xx failure lab.

A small HTTP/1.1 server (standard library only) whose failure mode is chosen
on the command line. Every mode is a real behaviour — a real exception with
its traceback in the log, a real TCP connection to a database that is not
there, a real write into a full filesystem, a real allocation inside a memory
cgroup — so that what why5xx sees is what it would see on a production box.

    app.py --name MARKER --listen 127.0.0.1:PORT --log FILE --mode MODE [options]

`--name` only puts a unique marker on the command line, for why5xx's
`process = "MARKER"`. The log uses Python's default `logging` layout:
`YYYY-MM-DD HH:MM:SS,mmm LEVEL name: message`, tracebacks via
`logging.exception`.

Modes:
  ok                      200 {"ok":true} on every path
  slow --delay S          sleep S seconds, then 200
  status --status N       answer N with a short body and nothing in the log but the access line
  exception               a real ZeroDivisionError in the handler: traceback, 500
  need-env NAME           os.environ[NAME] per request: KeyError traceback and 500 when unset
  db --db HOST:PORT [--db-status 500|503]
                          a TCP connection to the database per request; when it fails a
                          psycopg2.OperationalError traceback and the given status
  db-query --dsn DSN [--query SQL] [--timeout S]
                          run the query through `psql` per request; psql not done within S:
                          a QueryCanceled traceback and 504
  schema [--dsn DSN]      SELECT from a table that does not exist: psycopg2.errors.UndefinedTable
                          traceback, 500 (through psql when --dsn is given)
  external --api URL [--timeout S]
                          a synchronous urllib call to URL per request; slow API: slow answer;
                          failing API: traceback and 500
  crash                   pre-forked workers (like gunicorn); a worker that gets a request dies
                          of SIGSEGV mid-request and the arbiter forks a new one
  write --dir D           writes a 64 KiB file per request into D; ENOSPC: traceback, 500
  fds [--nofile N]        lowers RLIMIT_NOFILE to N and leaks descriptors at start until one
                          is left; each request's open() fails with EMFILE: traceback, 503
  memory --mb N [--catch-memory] [--rlimit-as MB]
                          allocates and touches N MiB per request and keeps it (a leak); with
                          --catch-memory a MemoryError is caught, logged and answered 500
  maintenance             503 with Retry-After: 300
Options valid for every mode:
  --tls-cert C --tls-key K   serve HTTPS
  --startup-delay S          sleep S seconds before binding the port (a slow boot)
"""

import argparse
import json
import linecache
import logging
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

log = logging.getLogger("app")


# Exceptions named and formatted the way psycopg2 names them, so that the
# traceback's last line reads exactly like a real Django/Flask app's.
class OperationalError(Exception):
    pass


OperationalError.__module__ = "psycopg2"


class UndefinedTable(Exception):
    pass


UndefinedTable.__module__ = "psycopg2.errors"


class QueryCanceled(OperationalError):
    pass


QueryCanceled.__module__ = "psycopg2.errors"


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


# --- what each mode does for one request: returns (status, headers, body) ---


def order_total(items):
    # The bug: an empty cart divides by zero.
    return sum(items) / len(items)


def handle_exception(args, path):
    average = order_total([])
    return 200, {}, {"average": average}


def handle_need_env(args, path):
    key = os.environ[args.need_env]
    return 200, {}, {"ok": True, "key_length": len(key)}


def connect_db(args):
    host, port = parse_addr(args.db)
    try:
        conn = socket.create_connection((host, port), timeout=2)
    except OSError as e:
        reason = e.strerror or str(e)
        raise OperationalError(
            f'connection to server at "{host}", port {port} failed: {reason}\n'
            "\tIs the server running on that host and accepting TCP/IP connections?"
        ) from None
    conn.close()


def handle_db(args, path):
    try:
        connect_db(args)
    except OperationalError:
        log.exception("Internal Server Error: %s", path)
        return args.db_status, {}, {"error": "database unavailable"}
    return 200, {}, {"ok": True}


def psql(args, sql, timeout):
    return subprocess.run(
        ["psql", args.dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def handle_db_query(args, path):
    try:
        run_query(args)
    except QueryCanceled:
        log.exception("Internal Server Error: %s", path)
        return 504, {}, {"error": "query timed out"}
    return 200, {}, {"ok": True}


def run_query(args):
    try:
        out = psql(args, args.query, args.timeout)
    except subprocess.TimeoutExpired:
        raise QueryCanceled(
            "canceling statement due to statement timeout\n"
            f"(no answer to {args.query!r} within {args.timeout:g}s)"
        ) from None
    if out.returncode != 0:
        raise OperationalError(out.stderr.strip())


def select_orders(args):
    if args.dsn:
        out = psql(args, "SELECT * FROM orders", 5)
        if out.returncode != 0:
            message = out.stderr.strip().removeprefix("ERROR:").strip()
            raise UndefinedTable(message)
        return
    raise UndefinedTable(
        'relation "orders" does not exist\nLINE 1: SELECT * FROM orders\n'
        "                      ^"
    )


def handle_schema(args, path):
    select_orders(args)
    return 200, {}, {"ok": True}


def call_api(args):
    with urllib.request.urlopen(args.api, timeout=args.timeout) as resp:
        return json.loads(resp.read() or b"{}")


def handle_external(args, path):
    answer = call_api(args)
    return 200, {}, {"ok": True, "api": answer}


def handle_write(args, path):
    name = os.path.join(args.dir, f"upload-{time.time_ns()}.bin")
    with open(name, "wb") as f:
        f.write(b"\0" * 65536)
        f.flush()
        os.fsync(f.fileno())
    return 200, {}, {"ok": True, "wrote": name}


def handle_fds(args, path):
    try:
        with open(__file__, "rb") as f:
            f.read(1)
    except OSError:
        log.exception("Internal Server Error: %s", path)
        return 503, {}, {"error": "too many open files"}
    return 200, {}, {"ok": True}


LEAK = []


def handle_memory(args, path):
    try:
        block = b"\1" * (args.mb << 20)  # touched: every page is written
    except MemoryError:
        if not args.catch_memory:
            raise
        log.exception("Internal Server Error: %s", path)
        return 500, {}, {"error": "out of memory"}
    LEAK.append(block)
    return 200, {}, {"ok": True, "held_mib": len(LEAK) * args.mb}


def handle_slow(args, path):
    time.sleep(args.delay)
    return 200, {}, {"ok": True, "slept": args.delay}


def handle_status(args, path):
    return args.status, {}, {"status": args.status}


def handle_maintenance(args, path):
    return 503, {"Retry-After": "300"}, {"error": "down for maintenance"}


def handle_ok(args, path):
    return 200, {}, {"ok": True}


def handle_crash(args, path):
    # A native extension faults mid-request: the worker dies, the connection
    # is closed without an answer.
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(5)
    return 200, {}, {"ok": True}


MODES = {
    "ok": handle_ok,
    "slow": handle_slow,
    "status": handle_status,
    "exception": handle_exception,
    "need-env": handle_need_env,
    "db": handle_db,
    "db-query": handle_db_query,
    "schema": handle_schema,
    "external": handle_external,
    "crash": handle_crash,
    "write": handle_write,
    "fds": handle_fds,
    "memory": handle_memory,
    "maintenance": handle_maintenance,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "labapp/1.0"
    args = None

    def do_GET(self):
        # Read the whole request before failing, the way a framework does.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        try:
            status, headers, body = MODES[self.args.mode](self.args, self.path)
        except Exception:
            log.exception("Internal Server Error: %s", self.path)
            status, headers, body = 500, {}, {"error": "internal server error"}
        self.answer(status, headers, body)

    do_POST = do_GET
    do_HEAD = do_GET

    def answer(self, status, headers, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def address_string(self):
        return self.client_address[0] if self.client_address else "unix"

    def log_message(self, fmt, *fargs):
        log.info("%s %s", self.address_string(), fmt % fargs)


def make_server(args, threading=True):
    base = ThreadingHTTPServer if threading else HTTPServer

    class Server(base):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

        if args.unix:
            address_family = socket.AF_UNIX

            def server_bind(self):
                if os.path.exists(self.server_address):
                    os.unlink(self.server_address)
                self.socket.bind(self.server_address)
                self.server_name, self.server_port = "unix", 0

    address = args.unix if args.unix else parse_addr(args.listen)
    server = Server(address, Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server


def serve_prefork(args, server, workers=2):
    """The arbiter of `crash` mode: forks workers sharing the listening
    socket and replaces each one that dies, logging like gunicorn does."""
    children = set()

    def spawn():
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core files
            log.info("Booting worker with pid: %d", os.getpid())
            try:
                server.serve_forever()
            finally:
                os._exit(0)
        children.add(pid)

    def stop(*_):
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    for _ in range(workers):
        spawn()
    while True:
        pid, status = os.wait()
        children.discard(pid)
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            log.error("Worker (pid:%d) was sent %s!", pid, sig)
        else:
            log.error("Worker (pid:%d) exited with code %d", pid, os.WEXITSTATUS(status))
        spawn()


def leak_descriptors(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, hard))
    leaked = []
    try:
        while True:
            leaked.append(open(__file__, "rb"))
    except OSError:
        pass
    leaked.pop().close()  # one left: enough to accept a connection
    log.info("holding %d descriptors (RLIMIT_NOFILE %d)", len(leaked), args.nofile)
    return leaked


def warm_linecache():
    # Tracebacks read source files; with no descriptor left they could not.
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py"):
            linecache.getlines(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="labapp", help="a marker for the command line")
    p.add_argument("--listen", default="127.0.0.1:8000")
    p.add_argument("--unix")
    p.add_argument("--log", required=True)
    p.add_argument("--mode", default="ok", choices=sorted(MODES))
    p.add_argument("--delay", type=float, default=1.0)
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--need-env", default="API_KEY")
    p.add_argument("--db", default="127.0.0.1:5432")
    p.add_argument("--db-status", type=int, default=500)
    p.add_argument("--dsn")
    p.add_argument("--query", default="SELECT * FROM t")
    p.add_argument("--api")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--dir")
    p.add_argument("--nofile", type=int, default=64)
    p.add_argument("--mb", type=int, default=64)
    p.add_argument("--catch-memory", action="store_true")
    p.add_argument("--rlimit-as", type=int, help="MiB of address space")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--startup-delay", type=float, default=0.0)
    args = p.parse_args()

    logging.basicConfig(
        filename=args.log,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    Handler.args = args
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("starting %s in mode %s (pid %d)", args.name, args.mode, os.getpid())
    if args.startup_delay:
        time.sleep(args.startup_delay)
    if args.rlimit_as:
        limit = args.rlimit_as << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    server = make_server(args, threading=args.mode != "crash")
    where = args.unix or "%s:%d" % server.server_address[:2]
    log.info("listening on %s%s", "https://" if args.tls_cert else "", where)
    if args.mode == "crash":
        serve_prefork(args, server)
        return
    warm_linecache()
    held = leak_descriptors(args) if args.mode == "fds" else None
    try:
        server.serve_forever()
    finally:
        del held


if __name__ == "__main__":
    main()
