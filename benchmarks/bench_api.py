"""API evaluation speed and fault tolerance: tuneworth vs inspect_ai, DSPy Evaluate and promptfoo,
all against the same fault server (tuneworth.testing.fault_server), one run side by side.

Clients: ours (Evaluator -> Model -> OpenAIProvider over aiohttp), openai_sdk (the official SDK's
request path alone, api_clients/openai_sdk.py), and the peers inspect_ai, dspy, promptfoo.

Scenarios (each client evaluates N distinct one-line questions):
  throughput  N items at --latency-ms simulated latency, at each --concurrency: items/s against
              the ideal C / latency (and against N / (ceil(N/C) * latency), the best any client
              can do with a fixed latency, since the last wave is partly empty)
  overhead    the same at 0 ms latency and the largest concurrency: requests/s (client overhead)
  faults      ours only: 20% 429 (Retry-After 1 s) + 5% 500 + 2% hangs; completed items and the
              requests the server saw per item, with faults drawn per request and per item

Rates use the server's clock (first request in to last answer out), so interpreter and node
start-up are excluded for every client alike; each client's own timing of its eval call is kept too.
Peers run from a throwaway environment outside the repository:
  python3 -m venv /tmp/peers/venv && /tmp/peers/venv/bin/pip install inspect-ai dspy openai
  mkdir -p /tmp/peers/npm && cd /tmp/peers/npm && npm install promptfoo
Usage: python benchmarks/bench_api.py [--n 400] [--latency-ms 200] [--concurrency 32 64]
       [--peers-venv /tmp/peers/venv] [--promptfoo-dir /tmp/peers/npm]
       [--clients ours,openai_sdk,inspect_ai,dspy,promptfoo]
Writes benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _results import save

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "api_clients"
# DSPy's ChatAdapter parses fields from this layout; the other clients accept any text.
ANSWER = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_command(
    name: str, url: str, n: int, c: int, args: argparse.Namespace, timeout: float
) -> list[str]:
    peers_py = str(Path(args.peers_venv) / "bin" / "python")
    if name == "ours":
        return [sys.executable, str(CLIENTS / "ours.py"), url, str(n), str(c), str(timeout)]
    if name == "openai_sdk":
        return [sys.executable, str(CLIENTS / "openai_sdk.py"), url, str(n), str(c)]
    if name == "inspect_ai":
        return [peers_py, str(CLIENTS / "inspect_client.py"), url, str(n), str(c)]
    if name == "dspy":
        return [peers_py, str(CLIENTS / "dspy_client.py"), url, str(n), str(c)]
    if name == "promptfoo":
        return [sys.executable, str(CLIENTS / "promptfoo_client.py"), args.promptfoo_dir, url, str(n), str(c)]
    raise SystemExit(f"unknown client {name}")


def run_client(
    name: str,
    base: str,
    n: int,
    c: int,
    server: dict[str, Any],
    args: argparse.Namespace,
    timeout: float = 60.0,
) -> dict[str, Any]:
    http(f"{base}/config", {**server, "answer": ANSWER})
    cmd = client_command(name, f"{base}/v1", n, c, args, timeout)
    server_cpu0 = proc_cpu(args.server_pid)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    server_cpu = proc_cpu(args.server_pid) - server_cpu0
    stats = http(f"{base}/stats")
    row: dict[str, Any] = {
        "client": name,
        "n": n,
        "concurrency": c,
        "latency_ms": server.get("latency_ms", 0),
    }
    if proc.returncode != 0:
        row["error"] = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return row
    client = json.loads(proc.stdout.strip().splitlines()[-1])
    window = (stats["last_at"] or 0) - (stats["first_at"] or 0)
    row.update(
        completed=client["completed"],
        errors=client["errors"],
        client_seconds=round(client["seconds"], 3),
        client_cpu_ms_per_item=round(client["cpu_seconds"] * 1000 / max(1, client["completed"]), 2),
        server_seconds=round(window, 3),
        items_per_s=round(client["completed"] / window, 1) if window > 0 else None,
        server_requests=stats["requests"],
        # The server's own CPU per request (one process, one event loop): 1000 / this is its cap in
        # requests/s on one core, whatever the client.
        server_cpu_ms_per_request=round(server_cpu * 1000 / max(1, stats["requests"]), 2),
        requests_per_item=round(stats["requests"] / n, 3),
        outcomes=stats["outcomes"],
        max_in_flight=stats["max_in_flight"],
    )
    if "api" in client:
        row["api"] = client["api"]
    lat = server.get("latency_ms", 0) / 1000
    if lat > 0 and row["items_per_s"]:
        ideal = c / lat
        bound = n / (math.ceil(n / c) * lat)
        row["ideal_items_per_s"] = round(ideal, 1)
        row["of_ideal"] = round(row["items_per_s"] / ideal, 3)
        row["of_achievable"] = round(row["items_per_s"] / bound, 3)
    return row


def show(row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"  {row['client']:<11} C={row['concurrency']:<3} FAILED: {row['error'][-1]}", flush=True)
        return
    extra = (
        f" {row['of_ideal']:.1%} of ideal, {row['of_achievable']:.1%} of achievable"
        if "of_ideal" in row
        else ""
    )
    print(
        f"  {row['client']:<11} C={row['concurrency']:<3} {row['items_per_s']:>7} items/s{extra}; "
        f"{row['completed']}/{row['n']} done, {row['requests_per_item']}x requests, client {row['client_seconds']} s, "
        f"{row['client_cpu_ms_per_item']} ms CPU/item; server {row['server_cpu_ms_per_request']} ms CPU/request",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--clients", default="ours,inspect_ai,dspy,promptfoo")
    ap.add_argument("--peers-venv", default="/tmp/peers/venv")
    ap.add_argument("--promptfoo-dir", default="/tmp/peers/npm")
    ap.add_argument("--save-as", default="api", help="results file: benchmarks/results/NAME.json")
    ap.add_argument(
        "--skip", default="", help="comma-separated scenarios to skip: throughput,overhead,faults"
    )
    args = ap.parse_args()
    clients = [c for c in args.clients.split(",") if c]
    skip = set(args.skip.split(","))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tuneworth.testing.fault_server", "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    args.server_pid = server.pid
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "n": args.n,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "throughput": [],
        "overhead": [],
        "faults": [],
    }
    try:
        for _ in range(100):
            try:
                http(f"{base}/stats")
                break
            except OSError:
                time.sleep(0.1)
        # One request before any client's clock: the server's first request pays one-time set-up
        # (~15 ms), which would otherwise land on whichever client runs first. Counts reset per client.
        http(f"{base}/v1/chat/completions", {"model": "warm-up", "messages": [{"role": "user", "content": "hi"}]})
        if "throughput" not in skip:
            print(f"throughput: {args.n} items at {args.latency_ms:g} ms", flush=True)
            for c in args.concurrency:
                for name in clients:
                    row = run_client(name, base, args.n, c, {"latency_ms": args.latency_ms}, args)
                    result["throughput"].append(row)
                    show(row)
        if "overhead" not in skip:
            c = max(args.concurrency)
            print(f"overhead: {args.n} items at 0 ms, C={c}", flush=True)
            for name in clients:
                row = run_client(name, base, args.n, c, {"latency_ms": 0}, args)
                result["overhead"].append(row)
                show(row)
        if "faults" not in skip:
            c = max(args.concurrency)
            for mode in ("request", "item"):
                faults = {
                    "latency_ms": args.latency_ms,
                    "rate_limit": 0.2,
                    "retry_after": "1",
                    "server_error": 0.05,
                    "hang": 0.02,
                    "hang_s": 600,
                    "faults": mode,
                    "seed": 1,
                }
                print(
                    f"faults drawn per {mode}: 20% 429 (Retry-After 1 s) + 5% 500 + 2% hangs, C={c}",
                    flush=True,
                )
                row = run_client("ours", base, args.n, c, faults, args, timeout=5.0)
                row["faults"] = mode
                result["faults"].append(row)
                show(row)
    finally:
        server.terminate()
        server.wait()
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    save(args.save_as, result)


if __name__ == "__main__":
    main()
