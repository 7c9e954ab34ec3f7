"""peerlib.py - what the Python test peers and clients share: reading a request body as sent (Content-Length or
chunked), writing a WebSocket frame (RFC 6455, server side: unmasked), a CONNECT tunnel through a proxy."""
import base64, hashlib, socket, struct


def read_body(handler):
    """The request body of a BaseHTTPRequestHandler, de-chunked; b"" when there is none."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        data = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return data
            data += handler.rfile.read(size)
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(n) if n else b""


def ws_frame(op, payload, fin=True):
    """One unmasked frame: opcode op, the payload in the shortest length form."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def ws_accept(key):
    """The Sec-WebSocket-Accept answering a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def proxy_connect(addr, port, host, upport, timeout=10):
    """A socket to addr:port that asked for a CONNECT tunnel to host:upport. Returns (socket, status): the status of
    the proxy's answer (200 when the tunnel is open; 0 when it closed without one), read byte by byte so nothing
    past the answer's head is consumed."""
    s = socket.create_connection((addr, int(port)), timeout=timeout)
    s.sendall(("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % (host, upport, host, upport)).encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        c = s.recv(1)
        if not c:
            break
        resp += c
    parts = resp.split(b" ")
    return s, int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
