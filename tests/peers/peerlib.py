"""peerlib.py - what the Python test peers share: reading a request body as sent (Content-Length or chunked)."""


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
