#!/usr/bin/env python3
"""client.py - WebSocket echo round trips for scripts/bench/ws.sh (Python's websockets).

Usage: client.py MODE ADDR PORT HOST UPPORT CAFILE N SIZE
MODE direct: wss://HOST:UPPORT straight to the upstream at ADDR:PORT (CAFILE: the upstream's CA);
     mitm: CONNECT HOST:UPPORT through egress at ADDR:PORT, TLS with CAFILE (the bottle CA).
N sequential round trips of a SIZE-byte text message (the upstream's echo:); prints one JSON line:
messages per second and the round-trip latency's p50 and p99 in microseconds.
"""
import asyncio, json, os, socket, ssl, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests/peers"))
from peerlib import proxy_connect

mode, addr, port, host, upport, cafile, n, size = sys.argv[1:9]
n, size = int(n), int(size)


def sock():
    if mode == "mitm":
        s, status = proxy_connect(addr, port, host, upport)
        if status != 200:
            sys.exit("CONNECT refused: status %d" % status)
    else:
        s = socket.create_connection((addr, int(port)), timeout=10)
    s.setblocking(False)
    return s


async def main():
    import websockets
    ctx = ssl.create_default_context(cafile=cafile)
    ws = await websockets.connect("wss://%s:%s/ws" % (host, upport), sock=sock(), ssl=ctx, server_hostname=host,
                                  open_timeout=10, ping_interval=None, compression=None)
    msg = "echo:" + "x" * size
    for _ in range(20):  # warm-up
        await ws.send(msg)
        await ws.recv()
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        a = time.perf_counter()
        await ws.send(msg)
        got = await ws.recv()
        lat.append(time.perf_counter() - a)
        if len(got) != size:
            sys.exit("echo came back with %d bytes, not %d" % (len(got), size))
    dt = time.perf_counter() - t0
    await ws.close()
    lat.sort()
    print(json.dumps({"mode": mode, "n": n, "size": size, "msgs_per_s": round(n / dt),
                      "p50_us": round(lat[n // 2] * 1e6), "p99_us": round(lat[int(n * 0.99)] * 1e6)}))


asyncio.run(main())
