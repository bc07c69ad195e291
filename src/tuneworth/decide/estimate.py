"""``tuneworth estimate TASK``: requests, tokens, dollars and time of a climb before spending anything.

Requests come from each rung's own ``planned_candidates`` (what the progress bars will count);
prompt tokens from the rung's real prompts on a sample of validation items (L1's variants, L2's
demonstrations), counted at ~4 characters per token (an estimate, labelled so: no tokenizer is
loaded); completion tokens from the gold answers (chain-of-thought gets its budget). Dollars come
from the dated prices table, time from its measured throughput.
"""

from __future__ import annotations

import statistics
from typing import Any

from tuneworth.decide.prices import load_prices

SAMPLE = 24  # validation items whose prompts are built and counted


def approx_tokens(text: str) -> int:
    """~4 characters per token (English BPE average); an estimate, never used for a finished run."""
    return max(1, round(len(text) / 4))


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else 0.0


def rung_plan(rung: Any, ctx: Any, base: Any) -> dict[str, Any]:
    """Requests and mean tokens per request for one rung, from its own ``estimate`` seam (or, for a
    rung whose prompts exist only at run time, the cheapest rung's ``base``)."""
    split = ctx.split
    sample = split.validation[:SAMPLE] or split.test[:SAMPLE]
    candidates = rung.planned_candidates(ctx)
    est = rung.estimate(ctx, sample, approx_tokens)
    if est is None:
        from tuneworth.rungs.base import Estimate, answer_tokens

        own = base.estimate(ctx, sample, approx_tokens)
        est = Estimate(
            own.extra.get("base_prompt_tokens", own.prompt_tokens),
            answer_tokens(ctx, sample, approx_tokens),
            f"prompt size estimated from {base.name}'s (this rung's prompts are built at run time)",
        )
    return {
        "rung": rung.name,
        "order": rung.order,
        "cost_class": rung.cost_class,
        "candidates": candidates,
        "requests": candidates * len(split.validation) + len(split.test),
        "prompt_tokens": round(est.prompt_tokens, 1),
        "completion_tokens": round(est.completion_tokens, 1),
        "note": est.note,
        **est.extra,
    }


def time_and_price(
    name: str,
    requests: int,
    tin: float,
    tout: float,
    connections: int,
    table: Any,
    task: Any,
    price: Any,
    priced_as: str | None = None,
) -> dict[str, Any]:
    """Seconds of one row from the model that runs it (local: token throughput; API: per-request
    latency over the connections) and dollars from ``price`` (looked up as ``priced_as``, default the
    model; a local model without one: its compute at the device's hourly rate)."""
    if name.startswith("local/"):
        seconds = (
            tin / table.throughput["local_prompt_tokens_per_second"]
            + tout / table.throughput["local_completion_tokens_per_second"]
        )
    else:
        seconds = requests * table.throughput["api_seconds_per_request"] / connections
    if price is not None:
        return {"seconds": seconds, "usd": (tin * price.input + tout * price.output) / 1e6, "priced_as": price.model}
    if name.startswith("local/"):
        hourly = table.hourly(task.economics.local_device)
        return {
            "seconds": seconds,
            "usd": seconds / 3600 * hourly,
            "priced_as": f"{task.economics.local_device} at ${hourly:.2f}/h",
        }
    return {"seconds": seconds, "usd": None, "priced_as": f"no price for {priced_as or name}"}


def judge_plan(task: Any, split: Any, rows: list[dict[str, Any]], table: Any) -> dict[str, Any] | None:
    """The judge's calls when ``metric = "judge"``: one per scored answer (two for pairwise with swap),
    plus the calibration file's items; priced and timed as the judge model, not the task's model."""
    if task.metric != "judge" or task.output.kind != "text":
        return None
    from tuneworth.judge.judge import PAIRWISE_SYSTEM, POINTWISE_SYSTEM

    j = task.judge
    per_answer = 2 if j.mode == "pairwise" and j.swap else 1
    calibration = 0
    if j.calibration:
        try:
            with open(task.resolve(j.calibration), "rb") as fh:
                calibration = sum(1 for line in fh if line.strip())
        except OSError:
            calibration = 0  # climb reports the missing file before any call
    answers = sum(r["requests"] for r in rows) + calibration
    calls = answers * per_answer
    try:
        from tuneworth.config.rubric import load_rubric

        rubric = load_rubric(task)
    except Exception:  # climb names the rubric problem before any call; the estimate stays usable
        rubric = j.rubric or ""
    system = (POINTWISE_SYSTEM if j.mode == "pointwise" else PAIRWISE_SYSTEM).format(rubric=rubric)
    sample = split.validation[:SAMPLE] or split.test[:SAMPLE]
    # The user turn holds the message, the reference and the answer (about as long as the reference).
    user = _mean([approx_tokens(ex.input) + 2 * approx_tokens(ex.output) + 12 for ex in sample])
    prompt = approx_tokens(system) + 4 + user
    name = j.model.name
    decoding = j.decoding if j.decoding != "auto" else ("choice" if name.startswith("local/") else "text")
    completion = 1.0 if decoding == "choice" else float(j.model.max_tokens)
    tin, tout = calls * prompt, calls * completion
    out: dict[str, Any] = {
        "model": name,
        "mode": j.mode,
        "calls": calls,
        "calibration_items": calibration,
        "prompt_tokens": round(prompt, 1),
        "completion_tokens": completion,
        "tokens_in": tin,
        "tokens_out": tout,
        "note": "completion tokens: the verdict label (label scoring)"
        if decoding == "choice"
        else f"completion tokens: the judge's max_tokens ({j.model.max_tokens}), an upper bound",
    }
    out.update(time_and_price(name, calls, tin, tout, j.model.max_connections, table, task, table.price(name)))
    return out


def _planned_decodings(task: Any, schema: dict[str, Any] | None) -> list[str]:
    """The decodings the climb will try, judged by provider family (no model is loaded)."""
    from tuneworth.decoding.plan import plan_modes

    provider = task.model.name.split("/", 1)[0]
    can = {"local": {"choice", "schema", "json_object"}, "openai": {"structured", "json_object", "choice"}}
    return plan_modes(task, schema, frozenset(can.get(provider, set())), task.model.name).modes


def estimate(task: Any, rungs: list[str] | None = None) -> dict[str, Any]:
    """The estimate for a loaded Task (no model is loaded or called)."""
    from tuneworth.data.load import load_split
    from tuneworth.rungs import RUNGS, load_rung
    from tuneworth.rungs.base import RunContext

    split, info = load_split(task)
    schema = task.json_schema() if task.output.kind == "json" else None
    ctx = RunContext(task, split, schema, approx_tokens)
    ctx.decodings = _planned_decodings(task, schema)
    economics = task.economics.model_dump()
    table = load_prices(economics)
    model = task.model.name
    ref = task.economics.price_reference
    price = table.price(ref or model)
    wanted = rungs or [n for n in RUNGS if getattr(task.rungs, n, None) is None or getattr(task.rungs, n).enabled]
    loaded = [load_rung(name) for name in wanted]
    base = min((load_rung(n) for n in RUNGS), key=lambda r: r.order)  # the plain instruction
    rows = []
    for rung in loaded:
        row = rung_plan(rung, ctx, base)
        tin, tout = row["requests"] * row["prompt_tokens"], row["requests"] * row["completion_tokens"]
        row["tokens_in"], row["tokens_out"] = tin, tout
        row.update(
            time_and_price(model, row["requests"], tin, tout, task.model.max_connections, table, task, price, ref)
        )
        rows.append(row)
    training = None
    if any(r.trains for r in loaded):
        first = next((r for r in rows if r["rung"] == base.name), rows[0])
        tokens = len(split.train) * (first["prompt_tokens"] + first["completion_tokens"]) * 3
        training = {"trained_tokens": tokens, "epochs": 3}
        if model.startswith("local/"):
            training["seconds"] = tokens / table.throughput["local_training_tokens_per_second"]
            training["usd"] = training["seconds"] / 3600 * table.hourly(task.economics.local_device)
        elif price and price.training is not None:
            training["usd"] = tokens / 1e6 * price.training
    judge = judge_plan(task, split, rows, table)
    parts = rows + ([judge] if judge else [])
    total_usd = [r["usd"] for r in parts] + ([training["usd"]] if training and "usd" in training else [])
    return {
        "task": task.name,
        "model": model,
        "sizes": info.sizes,
        "rungs": rows,
        "training": training,
        "judge": judge,
        "requests": sum(r["requests"] for r in rows) + (judge["calls"] if judge else 0),
        "tokens_in": sum(r["tokens_in"] for r in parts),
        "tokens_out": sum(r["tokens_out"] for r in parts),
        "usd": None if any(u is None for u in total_usd) else sum(total_usd),
        "seconds": sum(r["seconds"] for r in parts) + ((training or {}).get("seconds") or 0),
        "prices_as_of": table.as_of,
        "token_counting": "estimated at ~4 characters per token",
    }
