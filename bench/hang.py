#!/usr/bin/env python3
"""Dependencies that accept and never answer: listen on each port given, let
the kernel complete every handshake, never read, never write, never close.

    hang.py 127.0.0.1 18100 18101 18102 18103 18104
"""
import signal
import socket
import sys
import threading

host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
held = []


def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4096)
    while True:
        conn, _ = s.accept()
        held.append(conn)  # keep it open, silent


for p in ports:
    threading.Thread(target=serve, args=(p,), daemon=True).start()
signal.pause()
