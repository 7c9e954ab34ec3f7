"""peerlib.py - what the Python test peers share: reading a request body as sent (Content-Length or chunked), and
writing a WebSocket frame (RFC 6455, server side: unmasked)."""
import base64, hashlib, struct


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
