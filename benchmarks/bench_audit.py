"""Audit speed.

1. Format + size checks on N chat JSONL lines (default 100k), against a plain pure-Python implementation of
   the OpenAI cookbook's chat fine-tuning data checks (format error loop + per-message token counting),
   in the same process, on the same file. Both count tokens with the same tokenizer (SmolLM2's, via the
   Rust ``tokenizers`` library; the cookbook uses tiktoken, which is not installed here). tuneworth runs
   twice: its default (above ``audit.exact_tokens_up_to`` examples, a seeded sample plus every example
   that could be over the limit is counted, totals estimated) and with every example counted exactly, so
   the estimate's error is measured in the same run.
2. The full audit (all nine checks, with embeddings) on 10k restaurant8k examples, with a production
   sample and a test file, when ../shared is present: cold (empty embedding cache in a temporary
   TUNEWORTH_HOME, model not loaded) on the default ONNX Runtime, then again with the cache warm, then cold
   on the sentence-transformers (torch) runtime, whose findings must be identical.

    python benchmarks/bench_audit.py [--lines 100000] [--full 10000] [--no-torch]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save

WORDS = ["order", "refund", "parcel", "invoice", "account", "password", "delivery", "charge", "broken", "table", "booking", "tonight", "people", "please", "thanks", "when", "where", "why", "could", "would", "my", "the", "a", "for", "to", "at", "and", "with", "on", "is", "it", "was", "not"]


def synth(path: Path, n: int, seed: int = 0) -> None:
    """n chat lines (system, user, assistant), 1 in 1000 malformed in some way."""
    rng = random.Random(seed)
    system = "You triage customer support messages for an online shop. Answer with one JSON object."
    bad = [
        "not json at all",
        '{"messages": [{"role": "robot", "content": "x"}]}',
        '{"messages": [{"role": "user", "content": "x"}]}',
        '{"messages": "nope"}',
    ]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            if i % 1000 == 999:
                f.write(bad[(i // 1000) % len(bad)] + "\n")
                continue
            # mostly 4-40 words; 1 in 5000 long enough to pass the 512-token limit, and 1 in 5000 long in
            # bytes but under the limit (the sampled counting must still count those exactly)
            words = 700 if i % 5000 == 2500 else 120 if i % 5000 == 1000 else rng.randint(4, 40)
            user = " ".join(rng.choice(WORDS) for _ in range(words)) + f" #{i}"
            answer = json.dumps({"category": rng.choice(["billing", "shipping", "account"]), "id": i})
            msgs = [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")


def cookbook(path: Path, tokenizer: Any) -> dict[str, Any]:
    """The OpenAI cookbook's chat data checks, as plain Python (made tolerant of unparseable lines)."""
    dataset = []
    format_errors: dict[str, int] = defaultdict(int)
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                dataset.append(json.loads(line))
            except json.JSONDecodeError:
                format_errors["invalid_json"] += 1
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages or not isinstance(messages, list):
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(m.get("role", None) == "assistant" for m in messages):
            format_errors["example_missing_assistant_message"] += 1
    t_format = time.perf_counter()

    def num_tokens(messages: list[dict[str, Any]]) -> int:
        n = 0
        for message in messages:
            n += 3
            for key, value in message.items():
                n += len(tokenizer.encode(value, add_special_tokens=False).ids)
                if key == "name":
                    n += 1
        return n + 3

    lengths = [num_tokens(ex["messages"]) for ex in dataset if isinstance(ex, dict) and isinstance(ex.get("messages"), list)
               and all(isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str) for m in ex["messages"])]
    lengths.sort()
    return {"format_errors": dict(format_errors), "examples": len(lengths), "tokens": sum(lengths),
            "p50": lengths[len(lengths) // 2], "max": lengths[-1], "t_format": t_format}


def _ours(path: Path, exact_up_to: int) -> tuple[dict[str, Any], Any, Any]:
    """tuneworth's format + size checks, end to end from the file; wall and CPU seconds."""
    from tuneworth.audit.checks import format as fmt
    from tuneworth.audit.checks import size
    from tuneworth.audit.context import AuditContext
    from tuneworth.audit.reader import read_dataset
    from tuneworth.config.task import AuditConfig

    t0, c0 = time.perf_counter(), time.process_time()
    ds = read_dataset(path)
    ctx = AuditContext(data=ds, kind="json", config=AuditConfig(exact_tokens_up_to=exact_up_to))
    f_res = fmt.run(ctx)
    t_fmt, c_fmt = time.perf_counter(), time.process_time()
    s_res = size.run(ctx)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    times = {"format_s": round(t_fmt - t0, 2), "format_cpu_s": round(c_fmt - c0, 2),
             "format_and_size_s": round(wall, 2), "format_and_size_cpu_s": round(cpu, 2)}
    return times, f_res, s_res


def bench_format(n: int) -> dict[str, Any]:
    from tokenizers import Tokenizer

    from tuneworth.audit.tokens import _tokenizer_file, token_counter

    tok_path = _tokenizer_file("local/smollm2-135m")
    assert tok_path is not None, "run a climb once so the SmolLM2 tokenizer is converted"
    token_counter("local/smollm2-135m")  # load both tokenizers outside the timings
    baseline_tok = Tokenizer.from_file(str(tok_path))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.jsonl"
        synth(path, n)
        mb = path.stat().st_size / 1e6
        # 1. the default: exact counts up to 20k examples, above that a seeded sample + every example
        #    that could be over the limit (totals estimated, over-limit list exact)
        default, f_res, s_res = _ours(path, 20_000)
        # 2. the same checks with every example's tokens counted exactly (the Rust tokenizer's batch
        #    encoder on its own thread pool, both cores), to measure the estimate's error
        exact, _, s_exact = _ours(path, 10**9)
        t1, c1 = time.perf_counter(), time.process_time()
        cb = cookbook(path, baseline_tok)
        base, base_cpu = time.perf_counter() - t1, time.process_time() - c1
    est, ex = s_res.metrics["tokens"], s_exact.metrics["tokens"]
    lo, hi = est["total_interval_95"] or (est["total"], est["total"])
    return {
        "lines": n,
        "megabytes": round(mb, 1),
        "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM", "(unset: the Rust pool uses every core)"),
        "tuneworth_default": default,
        "tuneworth_all_exact": exact,
        "cookbook_format_s": round(cb["t_format"] - t1, 2),
        "cookbook_format_and_tokens_s": round(base, 2),
        "cookbook_format_and_tokens_cpu_s": round(base_cpu, 2),
        "speedup_vs_cookbook_default": round(base / default["format_and_size_s"], 2),
        "speedup_vs_cookbook_all_exact": round(base / exact["format_and_size_s"], 2),
        "tuneworth_problems": f_res.metrics["by_kind"],
        "tuneworth_bad_lines": f_res.metrics["bad_lines"],
        "cookbook_errors": cb["format_errors"],
        "estimate": {
            "counting": est["counting"],
            "counted_examples": est["counted_examples"],
            "total": est["total"],
            "interval_95": [lo, hi],
            "exact_total": ex["total"],
            "relative_error": round((est["total"] - ex["total"]) / ex["total"], 5),
            "exact_within_interval": lo <= ex["total"] <= hi,
            "percentiles_estimated_vs_exact": {q: [est[q], ex[q]] for q in ("p50", "p90", "p99")},
            "over_limit_same": s_res.evidence == s_exact.evidence,
        },
        "cookbook_tokens": cb["tokens"],
    }


def _export_onnx_once(home: Path) -> float:
    """The one-time ONNX export of the bundled embedding model into ``home``, in its own process (so this
    process never imports torch before the cold audits); seconds, 0.0 when it is already there."""
    import subprocess

    code = (
        "import os, sys; os.environ['TUNEWORTH_HOME'] = sys.argv[1]\n"
        "from tuneworth.embeddings.onnx import export_onnx, onnx_path\n"
        "p = onnx_path()\n"
        "p.is_file() or export_onnx(p)\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(home)], check=True)
    return round(time.perf_counter() - t0, 1)


def _run(data: Path, prod: Path, test: Path, home: Path, runtime: str) -> tuple[Any, float, float]:
    """One audit with ``TUNEWORTH_HOME=home`` (its own embedding cache): the report, wall and CPU seconds."""
    from tuneworth.audit import audit
    from tuneworth.config.task import AuditConfig

    old_home = os.environ.get("TUNEWORTH_HOME")
    os.environ["TUNEWORTH_HOME"] = str(home)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        report = audit(data, production=prod, test=test, config=AuditConfig(embedding_runtime=runtime))  # type: ignore[arg-type]
        return report, time.perf_counter() - t0, time.process_time() - c0
    finally:
        if old_home is None:
            os.environ.pop("TUNEWORTH_HOME", None)
        else:
            os.environ["TUNEWORTH_HOME"] = old_home


def _agreement(texts: list[str]) -> dict[str, float]:
    """Cosine between the two runtimes' vectors of every text (both served from the audits' caches)."""
    import numpy as np

    from tuneworth.embeddings.load import load_embedder

    a, b = load_embedder(runtime="onnx").embed(texts), load_embedder(runtime="torch").embed(texts)
    cos = (a * b).sum(axis=1)
    return {"min": float(cos.min()), "p01": float(np.percentile(cos, 1)), "mean": float(cos.mean()),
            "max_abs_diff": float(np.abs(a - b).max())}


def _findings(report: Any) -> list[dict[str, Any]]:
    return [c.to_dict() | {"seconds": 0} for c in report.checks]


def bench_full(n: int, torch_too: bool) -> dict[str, Any] | None:
    import shutil

    from restaurant8k import SHARED, convert

    from tuneworth.audit.tokens import token_counter

    if not (SHARED / "train.json").is_file():
        return None
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        train = convert("train", root / "train.jsonl")
        test_all = convert("test", root / "test_all.jsonl")
        lines = train.read_text(encoding="utf-8").splitlines() + test_all.read_text(encoding="utf-8").splitlines()
        data = root / "data.jsonl"
        data.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
        rest = lines[n:]
        test = root / "test.jsonl"
        test.write_text("\n".join(rest[:500]) + "\n", encoding="utf-8")
        prod = root / "production.txt"
        prod.write_text("\n".join(json.loads(x)["messages"][1]["content"] for x in rest[500:1000]) + "\n", encoding="utf-8")
        texts = [json.loads(x)["messages"][1]["content"] for x in lines[:n] + rest[:500]] + prod.read_text().splitlines()
        token_counter("local/smollm2-135m")  # the tokenizer lives under the real TUNEWORTH_HOME
        # The ONNX model is exported once per machine (like the GGUF conversion of the generation model);
        # measured here into a scratch home, then the cold audit gets it from there. "Cold" = a fresh
        # embedding cache (its own TUNEWORTH_HOME), embedding model not loaded, torch never imported.
        export_s = _export_onnx_once(root / "export")
        home = root / "onnx"
        shutil.copytree(root / "export" / "models", home / "models")
        report, total, cpu = _run(data, prod, test, home, "onnx")
        import sys as _sys

        torch_imported = "torch" in _sys.modules
        t1 = time.perf_counter()
        again, _, _ = _run(data, prod, test, home, "onnx")
        warm = time.perf_counter() - t1
        out: dict[str, Any] = {
            "examples": report.n_examples,
            "production": 500,
            "test": 500,
            "texts_embedded": len(set(texts)),
            "texts_in_inputs": len(texts),
            "runtime": report.inputs["embedding_runtime"],
            "seconds": round(total, 1),
            "cpu_seconds": round(cpu, 1),
            "per_check_s": {c.name: c.seconds for c in report.checks},
            "statuses": {c.name: c.status for c in report.checks},
            "torch_imported_by_audit": torch_imported,
            "onnx_export_once_s": export_s,
            "warm_cache_seconds": round(warm, 1),
            "warm_report_identical": _findings(report) == _findings(again),
        }
        if torch_too:
            # The same audit on the sentence-transformers (torch) runtime, cold, with its own empty cache.
            t_report, t_total, t_cpu = _run(data, prod, test, root / "torch", "torch")
            out["torch_runtime"] = {
                "seconds": round(t_total, 1),
                "cpu_seconds": round(t_cpu, 1),
                "per_check_s": {c.name: c.seconds for c in t_report.checks},
                "findings_identical_to_onnx": _findings(t_report) == _findings(report),
                "statuses": {c.name: c.status for c in t_report.checks},
                "cosine_onnx_vs_torch": _agreement(sorted(set(texts))),
            }
    out["note"] = (
        "cold: empty embedding cache, model not loaded; the model loads in a background thread while the "
        "format and size checks run, and embedding every distinct input (training + production + test, one "
        "call) is counted in the first check that needs it (duplicates)"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--full", type=int, default=10_000)
    ap.add_argument("--no-torch", action="store_true", help="skip the same audit on the torch runtime")
    args = ap.parse_args()
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    result["format_and_size"] = bench_format(args.lines)
    if args.full:
        result["full_audit"] = bench_full(args.full, not args.no_torch)
    result["load_average_after"] = os.getloadavg()
    save("audit", result)


if __name__ == "__main__":
    main()
