#!/usr/bin/env python3
"""recorder.py - an upstream for the attack suite that appends EVERY byte it receives to a file, then answers 200.

Usage: recorder.py ADDR PORT RAWLOG [CERT KEY]   (with CERT/KEY: HTTPS)
The raw log holds each connection's bytes as received (after TLS), before any parsing, so a test can
grep it for a secret in any form and prove the secret never arrived, smuggled requests included.
"""
import http.server, io, socket, ssl, sys, threading

LOCK = threading.Lock()


class Tee(io.RawIOBase):
    """A socket reader that appends what it reads to the raw log."""

    def __init__(self, sock):
        self.sock = sock

    def readable(self):
        return True

    def readinto(self, b):
        try:
            n = self.sock.recv_into(b)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            return 0
        if n:
            with LOCK, open(RAW, "ab") as f:
                f.write(bytes(b[:n]))
        return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.settimeout(10)
        self.rfile = io.BufferedReader(Tee(self.connection))

    def handle_any(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
        out = b"recorded\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

    def log_message(self, *args):
        pass


addr, port, RAW = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = http.server.ThreadingHTTPServer((addr, port), Handler)
server.daemon_threads = True
if len(sys.argv) > 5:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
