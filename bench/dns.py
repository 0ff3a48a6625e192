#!/usr/bin/env python3
"""A tiny authoritative DNS server for the benchmarks: every name has
A 127.0.0.1 and no AAAA (NODATA). UDP and TCP on the given address.

    dns.py 127.0.0.1 18053
"""
import socket
import socketserver
import struct
import sys
import threading


def answer(query: bytes) -> bytes:
    if len(query) < 12:
        return b""
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    # the question: labels up to the zero byte, then type and class
    i = 12
    while i < len(query) and query[i] != 0:
        i += 1 + query[i]
    qend = i + 5
    question = query[12:qend]
    qtype = struct.unpack("!H", query[i + 1:i + 3])[0] if qend <= len(query) else 0
    ancount = 1 if qtype == 1 else 0
    # QR, AA, RD copied, RA; NOERROR
    flags = 0x8400 | (struct.unpack("!H", query[2:4])[0] & 0x0100) | 0x0080
    head = struct.pack("!HHHHHH", qid, flags, 1 if qdcount else 0, ancount, 0, 0)
    body = question
    if ancount:
        body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    return head + body


class Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(answer(data), self.client_address)


class Tcp(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            n = self.request.recv(2)
            if len(n) < 2:
                return
            (length,) = struct.unpack("!H", n)
            q = b""
            while len(q) < length:
                chunk = self.request.recv(length - len(q))
                if not chunk:
                    return
                q += chunk
            a = answer(q)
            self.request.sendall(struct.pack("!H", len(a)) + a)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    udp = socketserver.ThreadingUDPServer((host, port), Udp)
    tcp = socketserver.ThreadingTCPServer((host, port), Tcp)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    tcp.serve_forever()


if __name__ == "__main__":
    main()
