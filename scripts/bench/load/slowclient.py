#!/usr/bin/env python3
"""slowclient.py - slowloris clients for the load tests: N connections to a proxy that send their request too slowly.

Usage: slowclient.py ADDR PORT MODE N HOST:PORT [MAX_SECS]
MODE  head     the request head, one byte every 0.2 s (never finished in time)
      stall    a whole head announcing a 100-byte body, 10 body bytes, then nothing
      dribble  a whole head announcing a 100-byte body, then one body byte every 0.5 s
Prints "ready N" once every connection has sent its first bytes, then one line per connection
when it ends: "STATUS SECONDS" (STATUS is the HTTP status the proxy answered, or "closed" if it
closed without one, or "none" if MAX_SECS (default 30) passed without an answer).
"""
import socket, sys, threading, time

ADDR, PORT, MODE, N, HOSTPORT = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
MAX = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
started = threading.Barrier(N + 1)
out_lock = threading.Lock()


def answer(s):
    """The status of whatever the proxy answered, without blocking long."""
    s.settimeout(0.05)
    try:
        d = s.recv(200)
    except socket.timeout:
        return None
    except OSError:
        return "closed"
    if not d:
        return "closed"
    parts = d.split(b" ", 2)
    return parts[1].decode("latin1") if len(parts) > 1 and d.startswith(b"HTTP/") else "closed"


def one():
    t0 = time.time()
    status = "none"
    head = (f"POST http://{HOSTPORT}/ok HTTP/1.1\r\nHost: {HOSTPORT}\r\nContent-Length: 100\r\n"
            "X-Slow: 1\r\n\r\n").encode()
    try:
        s = socket.create_connection((ADDR, PORT), timeout=5)
    except OSError:
        started.wait()
        status = "refused"
        s = None
    if s:
        if MODE == "head":
            chunks, pause = [head[i:i + 1] for i in range(len(head) - 2)], 0.2
        elif MODE == "stall":
            chunks, pause = [head + b"x" * 10], MAX
        else:
            chunks, pause = [head] + [b"x"] * 100, 0.5
        first = True
        while time.time() - t0 < MAX:
            if chunks:
                try:
                    s.sendall(chunks.pop(0))
                except OSError:
                    pass
            if first:
                started.wait()
                first = False
            got = answer(s)
            if got:
                status = got
                break
            deadline = time.time() + (pause if chunks else 0.2)
            while time.time() < min(deadline, t0 + MAX):
                got = answer(s)
                if got:
                    break
            if got:
                status = got
                break
        s.close()
    with out_lock:
        print(f"{status} {time.time() - t0:.2f}", flush=True)


threads = [threading.Thread(target=one) for _ in range(N)]
for t in threads:
    t.start()
started.wait()
print(f"ready {N}", flush=True)
for t in threads:
    t.join()
