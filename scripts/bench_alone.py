"""Run one benchmark alone on the machine and stamp its result with where and when it was measured.

``python scripts/bench_alone.py NAME -- python benchmarks/bench_NAME.py ARGS`` takes the exclusive benchmark
lock (``/tmp/tw-cpu.lock``: it waits for every shared holder, e.g. test runs, to finish), runs the command,
and adds a ``measured`` section to ``benchmarks/results/NAME.json``: the commit (``+dirty`` when the work tree
had changes), the UTC time, the command, and the load averages at the start and the end, so the README can
say which numbers are re-measured on which code and how quiet the machine was.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
LOCK = Path("/tmp/tw-cpu.lock")


def _commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True)
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the result file's name: benchmarks/results/NAME.json")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the benchmark command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark command after --")
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = os.getloadavg()
        began = time.time()
        proc = subprocess.run(command, cwd=REPO)
        end = os.getloadavg()
    if proc.returncode:
        print(f"error: {' '.join(command)} exited {proc.returncode}", file=sys.stderr)
        return proc.returncode
    path = RESULTS / f"{args.name}.json"
    result = json.loads(path.read_text())
    result["measured"] = {
        "commit": _commit(),
        "at": datetime.fromtimestamp(began, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - began, 1),
        "command": " ".join(command),
        "loadavg_start": [round(x, 2) for x in start],
        "loadavg_end": [round(x, 2) for x in end],
        "alone": "exclusive /tmp/tw-cpu.lock",
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["measured"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
