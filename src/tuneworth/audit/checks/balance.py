"""6. Balance: the distribution of labels (label tasks) or of each categorical JSON field, the imbalance
ratio, and classes of the label set (``output.labels`` or a schema ``enum``) that never occur.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tuneworth.audit.context import AuditContext, schema_enums
from tuneworth.audit.model import CheckResult, Evidence, Status, worst

NAME = "balance"
TITLE = "Balance"
WARN_RATIO = 10.0


def run(ctx: AuditContext) -> CheckResult:
    keys = ctx.class_keys()
    if not keys:
        return CheckResult(NAME, TITLE, "skip", f"{ctx.kind} outputs have no labels or categorical fields to balance")
    recs = ctx.records
    name = ctx.data.name
    label_sets = {"label": ctx.labels} if ctx.labels else {}
    label_sets.update(schema_enums(ctx.schema))
    status: Status = "pass"
    reasons: list[str] = []
    evidence: list[Evidence] = []
    metrics: dict[str, Any] = {}
    for field, values in keys.items():
        counts = Counter(v for v in values if v is not None)
        if not counts:
            continue
        top, top_n = counts.most_common(1)[0]
        low, low_n = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
        ratio = top_n / low_n
        allowed = label_sets.get(field)
        missing = [c for c in allowed if c not in counts] if allowed else []
        metrics[field] = {"counts": dict(counts.most_common()), "imbalance_ratio": round(ratio, 2), "missing": missing}
        if missing:
            status = worst(status, "warn")
            reasons.append(f"{field}: {len(missing)} class(es) never occur ({', '.join(map(repr, missing[:4]))})")
            evidence.append(Evidence(f"{field}: no example of {', '.join(map(repr, missing))}", [], [], name))
        if len(counts) > 1 and ratio > WARN_RATIO:
            status = worst(status, "warn")
            reasons.append(f"{field}: imbalance {ratio:.0f}:1 ({top!r} {top_n} vs {low!r} {low_n})")
            lines = [r.line for r, v in zip(recs, values, strict=True) if v == low]
            evidence.append(Evidence(f"{field}: rarest value {low!r} has {low_n} example(s) vs {top_n} for {top!r}", lines, [], name))
    if status == "pass":
        desc = "; ".join(f"{f}: {len(m['counts'])} values, max/min {m['imbalance_ratio']:.1f}" for f, m in metrics.items())
        reasons = [desc or "balanced"]
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)
