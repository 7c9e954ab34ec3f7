#!/usr/bin/env python3
"""upstream.py - an asyncio HTTP/1.1 upstream for the load and fault tests: thousands of keep-alive connections, and misbehaviour on demand.

Usage: upstream.py ADDR PORT LOG [CERT KEY]     (LOG "-": record nothing; CERT/KEY: HTTPS)
Each request's "METHOD TARGET" is appended to LOG (line-buffered) before it is answered, so a test
can prove what reached the upstream. Paths:
  /slow?s=N   answer after N seconds          /hang    read the request, never answer
  /reset      answer with a TCP reset (RST)    /close   close without a response
  /garbage    answer bytes that are not HTTP  anything else: 200 "ok\\n", keep-alive
Request bodies (Content-Length or chunked) are read and dropped. Prints "listening" on stdout.
"""
import asyncio, socket, ssl, struct, sys

ADDR, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logf = None if LOG == "-" else open(LOG, "a", buffering=1)
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


async def read_body(reader, headers):
    te = headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return
            await reader.readexactly(size + 2)
    n = int(headers.get("content-length", "0") or 0)
    if n:
        await reader.readexactly(n)


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin1").partition(":")
                headers[k.strip().lower()] = v.strip()
            parts = line.decode("latin1").split()
            target = parts[1] if len(parts) > 1 else ""
            if logf:
                logf.write(f"{parts[0] if parts else '?'} {target}\n")
            await read_body(reader, headers)
            path = target.split("?")[0]
            if path == "/slow":
                secs = float(target.split("s=")[1]) if "s=" in target else 5
                await asyncio.sleep(secs)
            elif path == "/hang":
                await asyncio.sleep(3600)
            elif path == "/reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            elif path == "/close":
                writer.close()
                return
            elif path == "/garbage":
                writer.write(b"\x00\x01 this is not HTTP\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            writer.write(OK)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
        pass
    finally:
        writer.close()


async def main():
    ctx = None
    if len(sys.argv) > 5:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    server = await asyncio.start_server(serve, ADDR, PORT, ssl=ctx, backlog=4096, limit=65536)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
