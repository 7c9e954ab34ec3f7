#!/usr/bin/env python3
"""ws_client.py - the agent's WebSocket client for egress's tests: Python's websockets (Debian's python3-websockets).

Usage: ws_client.py MODE EGRESS-ADDR EGRESS-PORT HOST PORT PATH CAFILE STEP...
MODE mitm: CONNECT HOST:PORT through egress, TLS with CAFILE (the bottle CA), then wss://HOST:PORT/PATH;
     direct: plain HTTP to egress with Host HOST:PORT (egress speaks TLS upstream);
     raw: as direct, but the handshake and frames are written by hand (STEP raw:HEX sends bytes as they are).
STEPs: send:TEXT  frags:A|B|C (one message in fragments)  bin:HEX  ping:TEXT  recv  close
raw STEPs: raw:HEX  zeros:N (N zero bytes)  touch:FILE (create it)  waitfile:FILE (wait up to 30 s for it)
Prints one JSON object: the handshake status, the messages received, the close code and reason seen.
"""
import asyncio, base64, json, os, socket, ssl, struct, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import proxy_connect

mode, eaddr, eport, host, port, path, cafile = sys.argv[1:8]
steps = sys.argv[8:]
out = {"status": None, "recv": [], "close_code": None, "close_reason": None}


def connect_sock():
    if mode == "mitm":
        s, status = proxy_connect(eaddr, eport, host, port)
        if status != 200:
            out["status"] = status
            print(json.dumps(out))
            sys.exit(0)
    else:
        s = socket.create_connection((eaddr, int(eport)), timeout=10)
    s.setblocking(False)
    return s


async def main():
    import websockets
    sock = connect_sock()
    ctx = None
    if mode == "mitm":
        ctx = ssl.create_default_context(cafile=cafile)
    uri = "%s://%s:%s%s" % ("wss" if ctx else "ws", host, port, path)
    try:
        ws = await websockets.connect(uri, sock=sock, ssl=ctx, server_hostname=host if ctx else None,
                                      open_timeout=10, close_timeout=5, ping_interval=None)
    except websockets.exceptions.InvalidStatusCode as e:
        out["status"] = e.status_code
        return
    out["status"] = 101
    out["extensions"] = [str(x.name) for x in ws.extensions]
    try:
        for st in steps:
            k, _, v = st.partition(":")
            if k == "send":
                await ws.send(v)
            elif k == "frags":
                await ws.send(v.split("|"))
            elif k == "bin":
                await ws.send(bytes.fromhex(v))
            elif k == "ping":
                await asyncio.wait_for(await ws.ping(v.encode()), 10)
                out["recv"].append("pong")
            elif k == "recv":
                m = await asyncio.wait_for(ws.recv(), 10)
                out["recv"].append(m if isinstance(m, str) else "hex:" + m.hex())
            elif k == "close":
                await ws.close()
        await asyncio.wait_for(ws.wait_closed(), 10)
    except websockets.exceptions.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        out["timeout"] = True
    out["close_code"] = ws.close_code
    out["close_reason"] = ws.close_reason


def raw():
    s = socket.create_connection((eaddr, int(eport)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
    f = s.makefile("rb")
    line = f.readline()
    out["status"] = int(line.split()[1])
    while f.readline() not in (b"\r\n", b""):
        pass
    for st in steps:
        k, _, v = st.partition(":")
        if k == "raw":
            s.sendall(bytes.fromhex(v))
        elif k == "zeros":
            s.sendall(bytes(int(v)))
        elif k == "touch":
            open(v, "w").close()
        elif k == "waitfile":
            end = time.monotonic() + 30
            while not os.path.exists(v) and time.monotonic() < end:
                time.sleep(0.02)
    s.settimeout(30)
    try:
        while True:
            h = f.read(2)
            if len(h) < 2:
                break
            op, n = h[0] & 15, h[1] & 127
            if n == 126:
                n = struct.unpack(">H", f.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", f.read(8))[0]
            data = f.read(n)
            if op == 8:
                out["close_code"] = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
                out["close_reason"] = data[2:].decode("utf-8", "replace")
                break
            out["recv"].append(data.decode("utf-8", "replace"))
    except OSError as e:
        out["error"] = str(e)


if mode == "raw":
    raw()
else:
    asyncio.run(main())
print(json.dumps(out))
