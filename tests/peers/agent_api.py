#!/usr/bin/env python3
"""agent_api.py - a local stand-in for the model vendors' APIs, for driving the real Claude Code and Codex CLIs.

Usage: agent_api.py ADDR PORT LOG CERT KEY CONTROL_DIR

One HTTPS server (the test maps api.anthropic.com, api.openai.com and chatgpt.com to it) that answers:
  POST .../v1/messages              Anthropic Messages API, SSE (stream: true) or JSON
  POST .../v1/messages/count_tokens a fixed count
  POST .../responses                OpenAI Responses API (api.openai.com/v1, chatgpt.com/backend-api/codex), SSE
  GET  .../responses + Upgrade      the same over WebSocket (RFC 6455; response.create in, events out)
  GET  /reflect/{echo,error,redirect,sse}  answers that quote the request's credential (scrubbing cases)
Every request is appended to LOG as one JSON line: host, method, path, headers (credentials included:
the tests check the upstream got the real token), the body decoded (gzip, deflate, zstd, br) and parsed.

What the model "does" follows markers in the user's prompt:
  BBTOOL     first turn: a shell tool call that writes tool-out.txt in the working directory;
             once the tool's result comes back, a final text
  BBHOLD     streams "BB-FIRST", then waits until CONTROL_DIR/release exists, then "BB-SECOND"
             (the test sees BB-FIRST at the client while the mock still holds the rest: no buffering)
  BBREFLECT  the answer quotes the credential the request carried (must reach the agent scrubbed)
Otherwise a short text answer. Each delta sent is logged with its time ("sent" lines).
"""
import base64, gzip, hashlib, http.server, json, os, ssl, struct, subprocess, sys, threading, time, zlib

from peerlib import read_body, ws_accept, ws_frame

ADDR, PORT, LOG, CERT, KEY, CONTROL = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
TOOL_FILE = "tool-out.txt"
TOOL_TEXT = "written-by-the-tool"
lock = threading.Lock()
counter = [0]


def log(rec):
    rec["t"] = time.time()
    with lock:
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")


def next_id(prefix):
    with lock:
        counter[0] += 1
        return "%s_%d" % (prefix, counter[0])


def decode_body(data, enc):
    enc = (enc or "").strip().lower()
    if not enc or enc == "identity":
        return data
    if enc == "gzip":
        return gzip.decompress(data)
    if enc == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -15)
    tool = {"zstd": ["zstd", "-dcq"], "br": ["brotli", "-dc"]}.get(enc)
    if not tool:
        raise ValueError("unknown encoding " + enc)
    return subprocess.run(tool, input=data, stdout=subprocess.PIPE, check=True).stdout


def credential(headers):
    for name in ("authorization", "x-api-key"):
        for k, v in headers.items():
            if k.lower() == name:
                return v
    return ""


# ---- what the model says -------------------------------------------------------------------------

def by_marker(prompt, can_call_tool):
    """What the model does for a user prompt: the marker it holds (module docstring), else a short text."""
    if "BBTOOL" in prompt and can_call_tool:
        return "tool", None
    if "BBHOLD" in prompt:
        return "hold", None
    if "BBREFLECT" in prompt:
        return "reflect", None
    return "text", "BB-HELLO"


DONE = ("final", "BB-DONE the tool wrote %s" % TOOL_FILE)


def anthropic_turn(body):
    """A Messages request's turn: after a tool's result the final answer, else by the last user prompt."""
    msgs = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = msgs[-1].get("content") if msgs else ""
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    if any(p.get("type") == "tool_result" for p in parts):
        return DONE
    prompt = "\n".join(p.get("text", "") for p in parts if p.get("type") == "text")
    return by_marker(prompt, "Bash" in [t.get("name") for t in body.get("tools") or []])


def openai_turn(body):
    """A Responses request's turn. Over WebSocket a follow-up carries only what is new: the tool's output."""
    items = body.get("input") or []
    if items and items[-1].get("type") in ("function_call_output", "custom_tool_call_output"):
        return DONE
    user = [c.get("text", "") for it in items if it.get("type") == "message" and it.get("role") == "user"
            for c in it.get("content") or [] if c.get("type") == "input_text"]
    return by_marker(user[-1] if user else "", True)


def wait_release():
    path = os.path.join(CONTROL, "release")
    for _ in range(6000):  # at most 60 s: the test releases as soon as it saw the first delta
        if os.path.exists(path):
            return
        time.sleep(0.01)


# ---- Anthropic Messages --------------------------------------------------------------------------

def anthropic_events(kind, text, body, cred):
    """The SSE events of one answer, as (event, data) pairs; 'HOLD' between them means wait for the release."""
    mid = next_id("msg")
    model = body.get("model", "claude-test")
    yield ("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}})
    if kind == "tool":
        tid = next_id("toolu")
        yield ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "tool_use", "id": tid, "name": "Bash", "input": {}}})
        args = json.dumps({"command": "printf %s > %s" % (TOOL_TEXT, TOOL_FILE), "description": "Write the test file"})
        for i in range(0, len(args), 20):
            yield ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "input_json_delta", "partial_json": args[i:i + 20]}})
        yield ("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = "tool_use"
    else:
        if kind == "hold":
            parts = ["BB-FIRST\n\n", "HOLD", "BB-SECOND"]  # a paragraph: a TUI renders whole lines
        elif kind == "reflect":
            parts = ["BB-REFLECT credential=[", cred, "] b64=[", base64.b64encode(cred.encode()).decode(), "]"]
        else:
            parts = [text[:4], text[4:]] if len(text) > 4 else [text]
        yield ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})
        for p in parts:
            if p == "HOLD":
                yield "HOLD"
                continue
            yield ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": p}})
        yield ("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = "end_turn"
    yield ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                             "usage": {"output_tokens": 20}})
    yield ("message_stop", {"type": "message_stop"})


def anthropic_message_json(kind, text, body, cred):
    content, stop = [], "end_turn"
    for ev in anthropic_events(kind, text, body, cred):
        if ev == "HOLD":
            continue
        name, data = ev
        if name == "content_block_start":
            content.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            d = data["delta"]
            if d["type"] == "text_delta":
                content[-1]["text"] += d["text"]
            else:
                content[-1].setdefault("_json", "")
                content[-1]["_json"] += d["partial_json"]
        elif name == "message_delta":
            stop = data["delta"]["stop_reason"]
    for c in content:
        if "_json" in c:
            c["input"] = json.loads(c.pop("_json"))
    return {"id": next_id("msg"), "type": "message", "role": "assistant", "model": body.get("model", "claude-test"),
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 20}}


# ---- OpenAI Responses ----------------------------------------------------------------------------

def tool_names(body):
    """Every tool name the request offers, nested namespaces and additional_tools input items included."""
    names = set()

    def walk(ts):
        for t in ts or []:
            if t.get("tools"):
                walk(t["tools"])
            else:
                names.add(t.get("name") or (t.get("function") or {}).get("name"))
    walk(body.get("tools"))
    for it in body.get("input") or []:
        if it.get("type") == "additional_tools":
            walk(it.get("tools"))
    return names


def shell_tool_call(body):
    """An output item calling whichever shell tool the client offers, to write the test file."""
    names = tool_names(body)
    cmd = "printf %s > %s" % (TOOL_TEXT, TOOL_FILE)
    if "exec" in names:  # code mode: a JavaScript cell calling the nested shell tool
        return {"type": "custom_tool_call", "name": "exec",
                "input": "const r = await tools.exec_command({cmd: %s});\ntext(r);\n" % json.dumps(cmd)}
    if "exec_command" in names:
        return {"type": "function_call", "name": "exec_command", "arguments": json.dumps({"cmd": cmd})}
    if "shell_command" in names:
        return {"type": "function_call", "name": "shell_command", "arguments": json.dumps({"command": cmd})}
    return {"type": "function_call", "name": "shell", "arguments": json.dumps({"command": ["bash", "-lc", cmd]})}


def openai_events(kind, text, body, cred):
    rid = next_id("resp")
    yield {"type": "response.created", "response": {"id": rid}}
    output = []
    if kind == "tool":
        item = dict(shell_tool_call(body), id=next_id("fc"), call_id=next_id("call"), status="completed")
        yield {"type": "response.output_item.added", "output_index": 0, "item": dict(item, status="in_progress")}
        yield {"type": "response.output_item.done", "output_index": 0, "item": item}
        output.append(item)
    else:
        if kind == "hold":  # two messages: the first whole before the hold (codex exec prints items, not deltas)
            messages = [["BB-FIRST"], "HOLD", ["BB-SECOND"]]
        elif kind == "reflect":
            messages = [["BB-REFLECT credential=[", cred, "] b64=[", base64.b64encode(cred.encode()).decode(), "]"]]
        else:
            messages = [[text[:4], text[4:]] if len(text) > 4 else [text]]
        for parts in messages:
            if parts == "HOLD":
                yield "HOLD"
                continue
            idx = len(output)
            mid = next_id("msg")
            yield {"type": "response.output_item.added", "output_index": idx,
                   "item": {"type": "message", "id": mid, "role": "assistant", "status": "in_progress", "content": []}}
            yield {"type": "response.content_part.added", "item_id": mid, "output_index": idx, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}
            full = ""
            for p in parts:
                full += p
                yield {"type": "response.output_text.delta", "item_id": mid, "output_index": idx, "content_index": 0,
                       "delta": p}
            yield {"type": "response.output_text.done", "item_id": mid, "output_index": idx, "content_index": 0,
                   "text": full}
            item = {"type": "message", "id": mid, "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": full, "annotations": []}]}
            yield {"type": "response.output_item.done", "output_index": idx, "item": item}
            output.append(item)
    yield {"type": "response.completed", "response": {
        "id": rid, "status": "completed", "output": output,
        "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 32}}}


# ---- WebSocket (RFC 6455), server side ------------------------------------------------------------

def ws_read(f):
    """One message (opcode, payload) with fragments joined, control frames answered; None at close/EOF."""
    parts, opcode = [], None
    while True:
        h = f.read(2)
        if len(h) < 2:
            return None
        fin, op, masked, n = h[0] & 0x80, h[0] & 0x0F, h[1] & 0x80, h[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", f.read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", f.read(8))[0]
        mask = f.read(4) if masked else b"\0\0\0\0"
        data = bytearray(f.read(n))
        for i in range(len(data)):
            data[i] ^= mask[i % 4]
        if op == 8:
            return None
        if op in (9, 10):  # ping (answered by the caller's loop via return) / pong: ignore pongs
            if op == 9:
                return ("ping", bytes(data))
            continue
        if op != 0:
            opcode = op
        parts.append(bytes(data))
        if fin:
            return (opcode, b"".join(parts))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def record(self, raw, extra=None):
        enc = self.headers.get("Content-Encoding", "")
        rec = {"host": self.headers.get("Host", ""), "method": self.command, "path": self.path,
               "headers": dict(self.headers.items()), "encoding": enc, "bytes": len(raw)}
        body = None
        try:
            text = decode_body(raw, enc)
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text.decode("utf-8", "replace")
        except Exception as ex:  # noqa: BLE001 - the log says why, the test reads it
            rec["decode_error"] = str(ex)
        rec["body"] = body
        if extra:
            rec.update(extra)
        log(rec)
        return body

    def send_json(self, status, obj, headers=()):
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def sse_stream(self, events, named):
        self.start_sse()
        for ev in events:
            if ev == "HOLD":
                log({"sent": "hold", "path": self.path})
                wait_release()
                continue
            if named:
                name, data = ev
            else:
                name, data = ev["type"], ev
            self.chunk(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())
            if "delta" in name:
                log({"sent": name, "path": self.path})
        self.chunk(b"")

    def do_POST(self):
        raw = read_body(self)
        path = self.path.split("?")[0]
        body = self.record(raw)
        cred = credential(self.headers)
        if not isinstance(body, dict):
            body = {}
        if path.endswith("/v1/messages/count_tokens"):
            return self.send_json(200, {"input_tokens": 12})
        if path.endswith("/v1/messages"):
            kind, text = anthropic_turn(body)
            if body.get("stream"):
                return self.sse_stream(anthropic_events(kind, text, body, cred), True)
            return self.send_json(200, anthropic_message_json(kind, text, body, cred))
        if path.endswith("/responses"):
            kind, text = openai_turn(body)
            return self.sse_stream(openai_events(kind, text, body, cred), False)
        if path.startswith("/reflect/"):
            return self.reflect(path, cred)
        return self.send_json(404, {"error": {"type": "not_found", "message": "the mock has no " + path}})

    def reflect(self, path, cred):
        if path == "/reflect/echo":
            return self.send_json(200, {"you_sent": cred, "headers": dict(self.headers.items())})
        if path == "/reflect/error":
            out = ("<html><body>401: the credential %s is not valid</body></html>" % cred).encode()
            self.send_response(401)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            return self.wfile.write(out)
        if path == "/reflect/redirect":
            self.send_response(302)
            self.send_header("Location", "https://%s/landing?token=%s" % (self.headers.get("Host", "x"), cred.split(" ")[-1]))
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if path == "/reflect/sse":
            self.start_sse()
            self.chunk(("data: {\"echo\": %s}\n\n" % json.dumps(cred)).encode())
            return self.chunk(b"")
        return self.send_json(404, {"error": "no such reflection"})

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/responses") and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        self.record(b"")
        if path.endswith("/wham/accounts/check"):  # the sign-in's workspace routing: this account, on this origin
            acct = self.headers.get("chatgpt-account-id", "")
            return self.send_json(200, {"accounts": [{"id": acct, "workspace_backend_origin": "https://chatgpt.com",
                                                      "account_routing_override": "NO_CONSTRAINT"}]})
        if path.endswith("/codex/models") or path.endswith("/v1/models"):
            return self.send_json(200, {"models": [], "data": []})
        if path.startswith("/reflect/"):
            return self.reflect(path, credential(self.headers))
        return self.send_json(404, {"error": {"type": "not_found", "message": "the mock has no " + path}})

    def websocket(self):
        self.record(b"", {"ws": "upgrade"})
        cred = credential(self.headers)
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = ws_accept(key)
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            msg = ws_read(self.rfile)
            if msg is None:
                break
            op, data = msg
            if op == "ping":
                self.wfile.write(ws_frame(10, data))
                self.wfile.flush()
                continue
            try:
                req = json.loads(data)
            except ValueError:
                req = {}
            log({"ws": "message", "path": self.path, "body": req})
            if req.get("type") != "response.create":
                continue
            kind, text = openai_turn(req)
            for ev in openai_events(kind, text, req, cred):
                if ev == "HOLD":
                    log({"sent": "hold", "path": self.path})
                    wait_release()
                    continue
                self.wfile.write(ws_frame(1, json.dumps(ev).encode()))
                self.wfile.flush()
                if "delta" in ev["type"]:
                    log({"sent": ev["type"], "path": self.path, "ws": "frame"})
        try:
            self.wfile.write(ws_frame(8, struct.pack(">H", 1000)))
        except OSError:
            pass  # the client closed first
        self.close_connection = True

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server((ADDR, PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1"])
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
