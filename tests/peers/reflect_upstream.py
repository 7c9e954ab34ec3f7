#!/usr/bin/env python3
"""reflect_upstream.py - an upstream that sends the credential it received back, in whatever way the request asks.

Usage: reflect_upstream.py ADDR PORT [CERT KEY]   (with CERT/KEY: HTTPS)
The agent (the test) chooses the reflection with query parameters, as an attacker steering an echo
endpoint, an error page or a redirect would:
  where=body|header|location|error|sse|status|leak|none   where the credential goes (default body: a JSON echo
        of every request header; leak: the value of $REFLECT_LEAK, an upstream that learnt it elsewhere,
        also used when no Authorization came; none: nothing reflected)
  form=raw|b64|b64url|hex|HEX|pct|auth64   how it is written (auth64: base64 of the whole header line)
  coding=identity|gzip|deflate|rawdeflate|zstd|br   Content-Encoding of the body
  frame=length|chunked|close                         how the body is delimited
  chunk=N&delay=MS                                   chunked: N-byte chunks, MS between writes
  events=N&gap=MS                                    sse: N events, MS apart (one carries the credential)
"""
import base64, gzip, http.server, json, os, socket, ssl, subprocess, sys, time, urllib.parse, zlib


def encode(form, token, auth):
    if form == "b64":
        return base64.b64encode(token.encode()).decode()
    if form == "b64url":
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    if form == "hex":
        return token.encode().hex()
    if form == "HEX":
        return token.encode().hex().upper()
    if form == "pct":
        return urllib.parse.quote(token, safe="")
    if form == "auth64":
        return base64.b64encode(("Authorization: " + auth).encode()).decode()
    return token


def compress(coding, data):
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "rawdeflate":
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if coding in ("zstd", "br"):
        cmd = ["zstd", "-q", "-c"] if coding == "zstd" else ["brotli", "-c"]
        return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    return data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        auth = self.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else auth
        if q.get("where") == "leak" or (not auth and os.environ.get("REFLECT_LEAK")):
            token = os.environ.get("REFLECT_LEAK", "")
        shown = encode(q.get("form", "raw"), token, auth)
        where = q.get("where", "body")
        status, headers, ctype = 200, [], "application/json"
        if where == "sse":
            return self.sse(q, shown)
        if where == "header":
            headers.append(("X-Echo-Auth", shown))
            body = b'{"ok": true}'
        elif where == "location":
            status = 302
            headers.append(("Location", "https://callback.test/cb?token=" + shown))
            body = b"redirecting\n"
        elif where == "error":
            status, ctype = 401, "text/html"
            body = ("<html><body><h1>401</h1><p>invalid credentials: <code>Authorization: Bearer %s</code></p>"
                    "</body></html>\n" % shown).encode()
        elif where == "none":
            body = b'{"ok": true, "nothing": "reflected"}\n'
        elif where == "status":
            self.send_response(403, "Forbidden for " + shown)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            seen = {k: v for k, v in self.headers.items()}
            if q.get("form", "raw") != "raw" or where == "leak":
                seen["Reflected"] = shown
            body = json.dumps({"method": self.command, "path": self.path, "headers": seen}).encode() + b"\n"
        coding = q.get("coding", "identity")
        body = compress(coding, body)
        frame = q.get("frame", "length")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if coding != "identity":
            self.send_header("Content-Encoding", "deflate" if coding == "rawdeflate" else coding)
        for k, v in headers:
            self.send_header(k, v)
        if frame == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif frame == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if frame == "chunked":
            step, delay = int(q.get("chunk", "4096")), int(q.get("delay", "0")) / 1000.0
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def sse(self, q, shown):
        """An event stream as the model APIs send one: deltas, one of them the credential, spaced in time."""
        events, gap = int(q.get("events", "5")), int(q.get("gap", "200")) / 1000.0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(events):
            delta = ("here it is: " + shown) if i == events // 2 else "part %d" % i
            ev = ("event: delta\ndata: " + json.dumps({"i": i, "t": time.time(), "delta": delta}) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
            time.sleep(gap)
        ev = b"event: done\ndata: [DONE]\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(ev), ev))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

    def log_message(self, *args):
        pass


addr, port = sys.argv[1], int(sys.argv[2])
server = http.server.ThreadingHTTPServer((addr, port), Handler)
server.daemon_threads = True
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
