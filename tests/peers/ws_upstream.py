#!/usr/bin/env python3
"""ws_upstream.py - a WebSocket (RFC 6455) upstream for egress's tests, written on the socket so nothing is hidden.

Usage: ws_upstream.py ADDR PORT LOG [CERT KEY]   (with CERT/KEY: TLS)
LOG gets one JSON line per upgrade (path, the credential, Sec-WebSocket-Extensions as received) and per frame
(opcode, fin, payload as received, unmasked, hex). Each text message is a command:
  echo:TEXT        TEXT back in one frame (binary messages are echoed as binary)
  auth:N           the Authorization it received, back in a text message of N fragments (split inside the token)
  close            a close frame 1000, then it waits for the client's
  drop             the TCP connection closed with no close frame
A ping is answered with a pong; a close with a close.
"""
import json, os, socket, ssl, struct, sys, threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import ws_accept, ws_frame

ADDR, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TLS = sys.argv[4:6] if len(sys.argv) > 5 else None
lock = threading.Lock()


def log(rec):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(rec) + "\n")


def read_exact(f, n):
    b = b""
    while len(b) < n:
        c = f.read(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def serve(conn):
    f = conn.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        c = f.read(1)
        if not c:
            return
        head += c
    lines = head.decode("latin1").split("\r\n")
    path = lines[0].split(" ")[1]
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    auth = hdrs.get("authorization", "")
    log({"upgrade": path, "authorization": auth, "extensions": hdrs.get("sec-websocket-extensions"),
         "upgrade_hdr": hdrs.get("upgrade"), "connection": hdrs.get("connection")})
    if hdrs.get("upgrade", "").lower() != "websocket":
        conn.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    accept = ws_accept(hdrs.get("sec-websocket-key", ""))
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    parts, mop = [], None
    try:
        while True:
            h = read_exact(f, 2)
            fin, op, masked, n = h[0] & 0x80, h[0] & 0x0F, h[1] & 0x80, h[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", read_exact(f, 2))[0]
            elif n == 127:
                n = struct.unpack(">Q", read_exact(f, 8))[0]
            key = read_exact(f, 4) if masked else b"\0\0\0\0"
            data = bytearray(read_exact(f, n))
            for i in range(len(data)):
                data[i] ^= key[i % 4]
            log({"frame": op, "fin": bool(fin), "masked": bool(masked), "rsv": (h[0] >> 4) & 7, "hex": data.hex()})
            if op == 8:
                conn.sendall(ws_frame(8, bytes(data[:2]) if len(data) >= 2 else b""))
                return
            if op == 9:
                conn.sendall(ws_frame(10, bytes(data)))
                continue
            if op == 10:
                continue
            if op != 0:
                mop = op
            parts.append(bytes(data))
            if not fin:
                continue
            msg, parts = b"".join(parts), []
            if mop == 2:
                conn.sendall(ws_frame(2, msg))
                continue
            text = msg.decode("utf-8", "replace")
            if text.startswith("echo:"):
                conn.sendall(ws_frame(1, text[5:].encode()))
            elif text.startswith("auth:"):
                k, body = int(text[5:]), ("reflected: " + auth + " end").encode()
                cut = [len(body) * i // k for i in range(k + 1)]
                for i in range(k):
                    conn.sendall(ws_frame(1 if i == 0 else 0, body[cut[i]:cut[i + 1]], fin=i == k - 1))
            elif text == "close":
                conn.sendall(ws_frame(8, struct.pack(">H", 1000) + b"bye"))
            elif text == "drop":
                conn.shutdown(socket.SHUT_RDWR)
                return
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ADDR, PORT))
srv.listen(64)
ctx = None
if TLS:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(TLS[0], TLS[1])
while True:
    c, _ = srv.accept()
    if ctx:
        try:
            c = ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
