"""The harness's ceiling for the API throughput benchmark (bench_api.py).

The least a client can do against the project's fault server: raw asyncio keep-alive sockets,
pre-built request bytes, the answer read by Content-Length and not parsed; no retries, no cache, no
record. 400 items at 200 ms, a pool of C workers as bench_api.py's clients use. What this reaches is
the most any client can reach on this machine and server; compare bench_api.py's "ours" with it.
``--server bare`` replaces the fault server with bare_chat_server.py (the least a server can do), to
see what this machine's event loops and timers allow at all.
Usage: python benchmarks/bench_api_ceiling.py [--runs 2] [--n 400] [--server fault|bare]
(writes results/api_ceiling.json, or api_ceiling_bare.json)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _results import save


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, Any]) -> bytes:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return bytes(r.read())


async def pool(port: int, n: int, c: int) -> float:
    """Seconds for n requests through c keep-alive connections, each sent as soon as its slot frees."""
    todo = list(range(n))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while todo:
            i = todo.pop()
            body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"item {i}"}]}).encode()
            head = (
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            writer.write(head + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
            length = next(int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length"))
            await reader.readexactly(length)
        writer.close()

    t = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(c)])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--server", choices=["fault", "bare"], default="fault")
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if args.server == "fault":
        cmd = [sys.executable, "-m", "tuneworth.testing.fault_server", "--port", str(port)]
    else:
        bare = Path(__file__).with_name("bare_chat_server.py")
        cmd = [sys.executable, str(bare), str(port), str(args.latency_ms)]
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    result: dict[str, Any] = {
        "n": args.n,
        "server": args.server,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "runs": [],
    }
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        post(f"{base}/v1/chat/completions", {"model": "warm-up", "messages": [{"role": "user", "content": "hi"}]})
        if args.server == "fault":
            post(f"{base}/config", {"latency_ms": args.latency_ms})
        latency = args.latency_ms / 1000
        for _ in range(args.runs):
            for c in args.concurrency:
                seconds = asyncio.run(pool(port, args.n, c))
                rate = args.n / seconds
                achievable = args.n / (math.ceil(args.n / c) * latency)
                row = {
                    "concurrency": c,
                    "seconds": round(seconds, 3),
                    "items_per_s": round(rate, 1),
                    "of_ideal": round(rate / (c / latency), 3),
                    "of_achievable": round(rate / achievable, 3),
                }
                result["runs"].append(row)
                print(f"raw client, {args.server} server, C={c}: {rate:.1f} items/s, {row['of_ideal']:.1%} of C/latency, "
                      f"{row['of_achievable']:.1%} of achievable", flush=True)
    finally:
        server.terminate()
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    save("api_ceiling" if args.server == "fault" else "api_ceiling_bare", result)


if __name__ == "__main__":
    main()
