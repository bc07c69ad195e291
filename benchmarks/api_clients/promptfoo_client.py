"""promptfoo (npm) as a client: `promptfoo eval` over N tests at --max-concurrency C.

Usage: python promptfoo_client.py PROMPTFOO_DIR URL N CONCURRENCY -> one JSON line
{"seconds", "completed", "errors"}. PROMPTFOO_DIR holds node_modules/.bin/promptfoo (npm install promptfoo).
"seconds" includes node's start-up; bench_api.py compares clients on the server's clock instead.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    home, url, n, c = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    config = {
        "prompts": ["Question {{i}}: what is {{i}} plus one?"],
        "providers": [
            {
                "id": "openai:chat:echo",
                "config": {"apiBaseUrl": url, "apiKey": "sk-bench", "max_tokens": 16, "temperature": 0},
            }
        ],
        "defaultTest": {"assert": [{"type": "contains", "value": "ok"}]},
        "tests": [{"vars": {"i": i}} for i in range(n)],
    }
    with tempfile.TemporaryDirectory() as d:
        cfg, out = Path(d) / "promptfooconfig.json", Path(d) / "out.json"
        cfg.write_text(json.dumps(config))
        env = {
            **os.environ,
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_CACHE_ENABLED": "false",
            "PROMPTFOO_CONFIG_DIR": str(Path(d) / "home"),
            "OPENAI_API_KEY": "sk-bench",
        }
        cmd = [
            str(home / "node_modules" / ".bin" / "promptfoo"),
            "eval",
            "-c",
            str(cfg),
            "--max-concurrency",
            str(c),
        ]
        cmd += ["--no-cache", "--no-table", "--no-progress-bar", "--no-write", "-o", str(out)]
        c0 = cpu()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=d)
        seconds = time.perf_counter() - t0
        cpu_seconds = cpu() - c0
        if not out.is_file():
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit(1)
        results = json.loads(out.read_text())["results"]["results"]
    errors = sum(1 for r in results if r.get("error") and not r.get("response", {}).get("output"))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "completed": len(results) - errors,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
