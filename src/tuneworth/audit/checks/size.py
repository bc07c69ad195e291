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
from tuneworth.evaluate.stats import percentile

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
        toks = ctx.example_tokens
        limit, source = length_limit(ctx.model, ctx.config.max_example_tokens)
        fl = [float(t) for t in toks]
        total = sum(toks)
        ep = epochs_for(n)
        metrics["tokens"] = {
            "counter": ctx.tokens.label,
            "exact": ctx.tokens.exact,
            "total": total,
            "mean": round(total / n, 1),
            "min": min(toks),
            "p50": percentile(fl, 50),
            "p90": percentile(fl, 90),
            "p99": percentile(fl, 99),
            "max": max(toks),
            "limit": limit,
            "limit_source": source,
            "epochs": ep,
            "billed_tokens_estimate": sum(min(t, limit) for t in toks) * ep,
        }
        over = [(r, t) for r, t in zip(ctx.records, toks, strict=True) if t > limit]
        word = "tokens" if ctx.tokens.exact else "tokens (estimated)"
        reasons.append(f"{total:,} {word}, median {percentile(fl, 50):.0f}, max {max(toks)}")
        if over:
            status = worst(status, "warn")
            reasons.append(f"{len(over)} over the {limit}-token limit ({source}): they will be truncated")
            evidence.append(
                Evidence(
                    f"{len(over)} example(s) over {limit} tokens",
                    [r.line for r, _ in over],
                    [f"line {r.line}: {t} tokens: {r.example.input[:80]!r}" for r, t in over[:3]],
                    ctx.data.name,
                )
            )
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)
