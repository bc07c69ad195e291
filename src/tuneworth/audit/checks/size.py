"""2. Size and tokens: the example count against the gates, per-class counts, and token lengths.

Gates: OpenAI refuses fewer than 10 examples and suggests 50-100 as the least that clearly helps.
Token counts use the target model's tokenizer when it is available offline (exact) and say so when
they are estimates.
"""

from __future__ import annotations

from collections import Counter

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status, worst
from tuneworth.audit.tokens import length_limit

NAME = "size"
TITLE = "Size and tokens"
OPENAI_MIN = 10
USEFUL_MIN = 50
# OpenAI's default epoch heuristic (cookbook): aim at 3 epochs, but keep 100-25,000 examples' worth.
TARGET_EPOCHS, MIN_TARGET, MAX_TARGET = 3, 100, 25000


def epochs_for(n: int) -> int:
    if n == 0:
        return 0
    if n * TARGET_EPOCHS < MIN_TARGET:
        return min(25, -(-MIN_TARGET // n))
    if n * TARGET_EPOCHS > MAX_TARGET:
        return max(1, MAX_TARGET // n)
    return TARGET_EPOCHS


def run(ctx: AuditContext) -> CheckResult:
    n = len(ctx.records)
    evidence: list[Evidence] = []
    reasons: list[str] = []
    if n < OPENAI_MIN:
        status: Status = "fail"
        reasons.append(f"{n} examples: OpenAI requires at least {OPENAI_MIN}")
    elif n < USEFUL_MIN:
        status = "warn"
        reasons.append(f"{n} examples: below the {USEFUL_MIN}-100 that usually make fine-tuning pay off")
    else:
        status = "pass"
        reasons.append(f"{n} examples")
    metrics: dict[str, object] = {"examples": n}
    if ctx.kind == "label":
        counts = Counter(r.example.output.strip() for r in ctx.records)
        metrics["per_class"] = dict(counts.most_common())
        low = {c: k for c, k in counts.items() if k < ctx.config.min_examples_per_class}
        if low:
            status = worst(status, "warn")
            reasons.append(f"{len(low)} class(es) under {ctx.config.min_examples_per_class} examples")
            for c, k in sorted(low.items(), key=lambda kv: kv[1]):
                lines = [r.line for r in ctx.records if r.example.output.strip() == c]
                evidence.append(Evidence(f"class {c!r} has only {k} example(s)", lines, [], ctx.data.name))
    if n:
        tk = ctx.example_tokens
        limit, source = length_limit(ctx.model, ctx.config.max_example_tokens)
        counted = list(tk.counted.values())
        over = tk.over(limit)
        ep = epochs_for(n)
        # Examples over the limit are truncated to it when training; those are always counted exactly.
        billed = (tk.total - sum(t - limit for _, t in over)) * ep
        exact = tk.exact and ctx.tokens.exact
        metrics["tokens"] = {
            "counter": ctx.tokens.label,
            "exact": exact,
            "counting": "every example"
            if tk.weights is None
            else (
                f"estimated from a seeded sample of {tk.sample_size:,} examples plus the {tk.forced:,} whose byte "
                f"bound is over the limit (the over-limit list is exact)"
            ),
            "counted_examples": len(counted),
            "total": tk.total,
            "total_interval_95": list(tk.total_interval) if tk.total_interval else None,
            "mean": round(tk.total / n, 1),
            "min": min(counted),
            "p50": tk.percentile(50),
            "p90": tk.percentile(90),
            "p99": tk.percentile(99),
            "max": max(counted),
            "limit": limit,
            "limit_source": source,
            "epochs": ep,
            "billed_tokens_estimate": billed,
        }
        if tk.weights is not None:
            lo, hi = tk.total_interval or (tk.total, tk.total)
            word = f"~{tk.total:,} tokens (estimated, 95% {lo:,}-{hi:,}; counted {len(counted):,} of {n:,})"
            reasons.append(f"{word}, median ~{tk.percentile(50):.0f}, max counted {max(counted)}")
        else:
            word = "tokens" if exact else "tokens (estimated)"
            reasons.append(f"{tk.total:,} {word}, median {tk.percentile(50):.0f}, max {max(counted)}")
        records = ctx.records
        if over:
            status = worst(status, "warn")
            reasons.append(f"{len(over)} over the {limit}-token limit ({source}): they will be truncated")
            evidence.append(
                Evidence(
                    f"{len(over)} example(s) over {limit} tokens",
                    [records[i].line for i, _ in over],
                    [
                        f"line {records[i].line}: {t} tokens: {records[i].example.input[:80]!r}"
                        for i, t in over[:3]
                    ],
                    ctx.data.name,
                )
            )
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)
