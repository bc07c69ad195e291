"""Start-up costs: `tuneworth --help` cold (vs bare `python -c pass`), and model load from the
safetensors cache vs de-quantizing the GGUF (what a first run pays once).

Usage: python benchmarks/bench_startup.py [--runs 7] [--help-only] [--save-as startup]
Run it alone (``flock -x /tmp/tw-cpu.lock``); the load average at start and end is in the result.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--skip-gguf", action="store_true", help="skip the ~30 s GGUF conversion timing")
    ap.add_argument("--help-only", action="store_true", help="only `tuneworth --help` against bare Python")
    ap.add_argument("--save-as", default="startup", help="results file: benchmarks/results/NAME.json")
    args = ap.parse_args()
    import os

    load_start = [round(x, 2) for x in os.getloadavg()]
    py = sys.executable
    base = statistics.median(wall([py, "-c", "pass"]) for _ in range(args.runs))
    helpt = statistics.median(wall([py, "-m", "tuneworth", "--help"]) for _ in range(args.runs))
    result: dict[str, object] = {
        "load_average_start": load_start,
        "python_startup_ms": round(base * 1000, 1),
        "tuneworth_help_ms": round(helpt * 1000, 1),
        "tuneworth_help_over_python_ms": round((helpt - base) * 1000, 1),
    }
    if args.help_only:
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        save(args.save_as, result)
        return
    load = (
        "import time,sys; t=time.perf_counter(); "
        "from tuneworth.providers.local.provider import converted_dir, load; d=converted_dir('smollm2-135m'); load(d); "
        "print(time.perf_counter()-t)"
    )
    subprocess.run([py, "-c", load], check=True, capture_output=True)  # make sure the cache exists
    cached = float(subprocess.run([py, "-c", load], check=True, capture_output=True, text=True).stdout)
    result["model_load_cached_s"] = round(cached, 2)
    if not args.skip_gguf:
        home = tempfile.mkdtemp()
        try:
            env = {**os.environ, "TUNEWORTH_HOME": home}
            out = subprocess.run([py, "-c", load], check=True, capture_output=True, text=True, env=env).stdout
            first = float(out)
            result["model_load_first_run_gguf_s"] = round(first, 2)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        result["first_over_cached"] = round(first / cached, 1)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    save(args.save_as, result)


if __name__ == "__main__":
    main()
