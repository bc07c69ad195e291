"""4. Contradictions: identical or near-identical inputs with different ideal outputs.

For JSON outputs the evidence names the fields that disagree. Near-identical inputs whose differing
words show up in the differing outputs ("for 2" vs "for 3" people) are explained, not contradictory.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status
from tuneworth.audit.neighbors import near_pairs
from tuneworth.audit.text import norm, words

NAME = "contradictions"
TITLE = "Contradictions"
FAIL_SHARE = 0.05


def differing_fields(objs: list[dict[str, Any] | None]) -> list[str]:
    if any(o is None for o in objs):
        return []
    keys = sorted({k for o in objs if o for k in o})
    return [k for k in keys if len({repr(o.get(k)) for o in objs if o is not None}) > 1]


def _explained(a: str, b: str, out_a: str, out_b: str) -> bool:
    diff = set(words(a)) ^ set(words(b))
    if not diff:
        return False
    out_words = set(words(out_a)) | set(words(out_b))
    digits_a = {t for t in norm(a).split() if any(c.isdigit() for c in t)}
    digits_b = {t for t in norm(b).split() if any(c.isdigit() for c in t)}
    return bool(diff & out_words) or (digits_a != digits_b)


def run(ctx: AuditContext) -> CheckResult:
    recs = ctx.records
    n = len(recs)
    objs = ctx.outputs_json
    by_input: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, r in enumerate(recs):
        ex = r.example
        by_input[(norm(ex.system or ""), *(norm(c) for _, c in ex.history), norm(ex.input))].append(i)
    evidence: list[Evidence] = []
    involved: set[int] = set()
    exact_groups = 0
    field_counts: Counter[str] = Counter()
    for g in sorted(by_input.values(), key=lambda g: g[0]):
        outs = Counter(norm(recs[i].example.output) for i in g)
        if len(outs) < 2:
            continue
        exact_groups += 1
        involved.update(g)
        fields = differing_fields([objs[i] for i in g]) if ctx.kind == "json" else []
        field_counts.update(fields)
        variants = list(dict.fromkeys(recs[i].example.output.strip() for i in g))
        evidence.append(
            Evidence(
                f"same input, {len(outs)} different outputs"
                + (f" (fields: {', '.join(fields)})" if fields else ""),
                [recs[i].line for i in g],
                [f"input: {recs[g[0]].example.input[:100]}", *(f"output: {v[:100]}" for v in variants[:3])],
                ctx.data.name,
            )
        )
    near = 0
    metrics: dict[str, Any] = {}
    if ctx.use_embeddings:
        thr = ctx.config.near_duplicate_threshold
        for i, j, s in near_pairs(ctx.embeddings, thr):
            a, b = recs[i].example, recs[j].example
            if norm(a.input) == norm(b.input) or norm(a.output) == norm(b.output):
                continue
            if _explained(a.input, b.input, a.output, b.output):
                continue
            near += 1
            involved.update((i, j))
            fields = differing_fields([objs[i], objs[j]]) if ctx.kind == "json" else []
            field_counts.update(fields)
            evidence.append(
                Evidence(
                    f"near-identical inputs (cosine {s:.3f}), different outputs"
                    + (f" (fields: {', '.join(fields)})" if fields else ""),
                    [recs[i].line, recs[j].line],
                    [f"{a.input[:80]} -> {a.output[:60]}", f"{b.input[:80]} -> {b.output[:60]}"],
                    ctx.data.name,
                )
            )
        metrics["threshold"] = thr
    metrics.update(
        exact_groups=exact_groups, near_pairs=near, examples_involved=len(involved), fields=dict(field_counts)
    )
    k = len(involved)
    status: Status = "pass" if k == 0 else "fail" if k > FAIL_SHARE * n else "warn"
    if k == 0:
        reason = "no input appears with two different outputs" + ("" if ctx.use_embeddings else " (exact match only: embeddings off)")
    else:
        reason = f"{k} example(s) in {exact_groups} identical-input group(s) and {near} near-identical pair(s) disagree"
        if field_counts:
            reason += f"; fields: {', '.join(f'{f} ({c})' for f, c in field_counts.most_common(4))}"
    return CheckResult(NAME, TITLE, status, reason, evidence, metrics)
