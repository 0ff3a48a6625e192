#!/usr/bin/env python3
"""A busy server's socket table: hold N established TCP connections on
loopback (the client ends in a child process, the server ends here, so each
process needs N descriptors), then answer every new connection with a
minimal HTTP 200 until killed.

    conns.py PORT N
"""
import os
import resource
import signal
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4096)
r, w = os.pipe()
child = os.fork()
if child == 0:
    srv.close()
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    os.write(w, b"x")
    signal.pause()
    os._exit(0)
held = [srv.accept()[0] for _ in range(n)]
os.read(r, 1)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    except OSError:
        pass
    c.close()
