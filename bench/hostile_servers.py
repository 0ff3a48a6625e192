#!/usr/bin/env python3
"""Hostile servers on 127.0.0.1 for bench/hostile-memory.sh, one per case,
each misbehaving the way tests/hostile.rs's do:

    hostile_servers.py CASE PORT

CASE is one of: endless-body, dribbled-headers, random-bytes, megabyte-headers,
redirect-loop, tls-garbage, tls-reset, dns-garbage, dns-truncated,
redis-endless, postgres-endless. DNS cases listen on UDP and TCP of PORT.
Runs until killed.
"""
import random
import signal
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


def read_head(conn):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk


def noise(n, seed):
    rnd = random.Random(seed)
    data = bytearray(rnd.getrandbits(8) for _ in range(n))
    if data and data[0] in (ord("H"), 0x15, 0x16):
        data[0] = 0
    return bytes(data)


def hold(conn):
    time.sleep(3600)
    conn.close()


def endless_body(conn):
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    chunk = b"x" * 65536
    while True:
        conn.sendall(chunk)


def dribbled_headers(conn):
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while True:
        conn.sendall(b"z")
        time.sleep(1)


def random_bytes(conn):
    read_head(conn)
    conn.sendall(noise(4096, 1))
    hold(conn)


def megabyte_headers(conn):
    read_head(conn)
    head = [b"HTTP/1.1 200 OK\r\n"]
    size, i = 0, 0
    value = b"a" * 1000
    while size < 1024 * 1024:
        line = b"X-Filler-%d: %s\r\n" % (i, value)
        head.append(line)
        size += len(line)
        i += 1
    head.append(b"Content-Length: 0\r\n\r\n")
    conn.sendall(b"".join(head))
    hold(conn)


def redirect_loop(conn):
    read_head(conn)
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    conn.close()


def tls_garbage(conn):
    conn.recv(4096)
    conn.sendall(noise(4096, 2))
    hold(conn)


def tls_reset(conn):
    conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def endless_after(prefix):
    def handle(conn):
        conn.recv(4096)
        conn.sendall(prefix)
        chunk = b"x" * 65536
        while True:
            conn.sendall(chunk)
    return handle


TCP_CASES = {
    "endless-body": endless_body,
    "dribbled-headers": dribbled_headers,
    "random-bytes": random_bytes,
    "megabyte-headers": megabyte_headers,
    "redirect-loop": redirect_loop,
    "tls-garbage": tls_garbage,
    "tls-reset": tls_reset,
    "redis-endless": endless_after(b"$2000000000\r\n"),
    "postgres-endless": endless_after(b"R\x7f\xff\xff\xff"),
}


def guarded(handle, conn):
    try:
        handle(conn)
    except OSError:
        pass


def serve_tcp(port, handle):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=guarded, args=(handle, conn), daemon=True).start()


def truncated_reply(query):
    if len(query) < 12:
        return None
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    end += 5
    reply = bytearray(query[:end])
    reply[2] = 0x80 | 0x02 | (query[2] & 0x01)
    reply[3] = 0x80
    reply[4:6] = b"\x00\x01"
    reply[6:12] = b"\x00" * 6
    return bytes(reply)


def serve_dns(port, case):
    # The TCP fallback accepts and never answers.
    threading.Thread(target=serve_tcp, args=(port, hold), daemon=True).start()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((HOST, port))
    seed = 0
    while True:
        query, peer = u.recvfrom(1500)
        if case == "dns-garbage":
            seed += 1
            reply = query[:2] + noise(298, seed)
        else:
            reply = truncated_reply(query)
        if reply:
            u.sendto(reply, peer)


def main():
    case, port = sys.argv[1], int(sys.argv[2])
    if case in ("dns-garbage", "dns-truncated"):
        threading.Thread(target=serve_dns, args=(port, case), daemon=True).start()
    elif case in TCP_CASES:
        threading.Thread(target=serve_tcp, args=(port, TCP_CASES[case]), daemon=True).start()
    else:
        sys.exit(f"unknown case {case}")
    signal.pause()


if __name__ == "__main__":
    main()
