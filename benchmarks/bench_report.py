"""Rendering the report of a 10k-item run: load the record, compute statistics/costs/decision,
draw the charts, write report.html + report.md. Target: under 2 s.

Measures a fresh process (cold imports: numpy, matplotlib) and, in-process, each stage, for a
pass/fail metric (Wilson, McNemar) and a continuous one (field accuracy: exact bootstrap) with
three rungs of 10,000 test items each. CPU time is reported beside wall time because this machine
is shared (wall time includes waiting for other processes).

Usage: python benchmarks/bench_report.py [--items 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic run-record writer the decision tests use (tests/helpers)

from tests.helpers.decide_records import improve, scores_with, write_run  # noqa: E402


def make_run(path: Path, n: int, metric: str) -> Path:
    rng = random.Random(0)
    if metric == "accuracy":
        l1 = scores_with(n, 0.6, 1)
        l2 = improve(l1, n // 20, 2)
        l4 = improve(l2, n // 40, 3)
    else:
        levels = [0, 0.25, 0.5, 0.75, 1.0]
        l1 = [rng.choice(levels) for _ in range(n)]
        l2 = [min(1.0, v + 0.25) if rng.random() < 0.2 else v for v in l1]
        l4 = [min(1.0, v + 0.25) if rng.random() < 0.1 else v for v in l2]
    outputs = {r: [f'{{"category": "{r}-{i % 7}", "priority": "high"}}' for i in range(n)] for r in ("L1", "L2", "L4")}
    return write_run(
        path,
        {"L1": l1, "L2": l2, "L4": l4},
        metric=metric,
        tokens={"L1": (120.0, 20.0), "L2": (900.0, 20.0), "L4": (60.0, 18.0)},
        economics={"requests_per_month": 2_000_000},
        extra={"training": {"trained_tokens": 2_000_000, "learning_curve": [{"fraction": f, "score": 0.5 + f / 4} for f in (0.25, 0.5, 1.0)]}},
        outputs=outputs,
    )


def cold(run: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of a fresh interpreter rendering the report."""
    code = f"from tuneworth.report.render import write_report; write_report({str(run)!r})"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stages(run: Path) -> dict[str, float]:
    from tuneworth.decide.evidence import analyse
    from tuneworth.report.decision_md import render_decision_markdown
    from tuneworth.report.html import render_html
    from tuneworth.run.record import load_record

    out = {}
    t = time.perf_counter()
    header, items, summary = load_record(run)
    out["load_record"] = time.perf_counter() - t
    t = time.perf_counter()
    assert summary is not None
    summary = {**summary, **analyse(header, items, summary)}
    out["analyse"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(header, items, summary)
    out["html"] = time.perf_counter() - t
    t = time.perf_counter()
    render_decision_markdown(header, items, summary)
    out["markdown"] = time.perf_counter() - t
    out["html_bytes"] = len(html.encode())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    result: dict[str, object] = {"items_per_rung": args.items, "rungs": 3, "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        for metric in ("accuracy", "field_accuracy"):
            run = make_run(Path(tmp) / metric, args.items, metric)
            colds = [cold(run) for _ in range(args.runs)]
            warm = [stages(run) for _ in range(args.runs)]
            result[metric] = {
                "cold_wall_s_median": round(statistics.median(w for w, _ in colds), 3),
                "cold_cpu_s_median": round(statistics.median(c for _, c in colds), 3),
                "cold_wall_s_all": [round(w, 3) for w, _ in colds],
                "warm_stages_s_median": {
                    k: round(statistics.median(s[k] for s in warm), 4) for k in warm[0] if k != "html_bytes"
                },
                "html_bytes": warm[0]["html_bytes"],
            }
    save("report", result)


if __name__ == "__main__":
    main()
