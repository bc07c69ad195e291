"""3. Duplicates: the same example more than once, exactly (after case/space normalisation) or nearly
(input cosine >= ``near_duplicate_threshold`` with the same output).

Same input with a different output is not a duplicate but a contradiction (check 4), so the two
checks never report the same pair.
"""

from __future__ import annotations

from collections import defaultdict

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status
from tuneworth.audit.neighbors import UnionFind, near_pairs
from tuneworth.audit.text import norm

NAME = "duplicates"
TITLE = "Duplicates"
FAIL_SHARE = 0.10


def example_key(ctx: AuditContext, i: int) -> tuple[str, ...]:
    ex = ctx.records[i].example
    return (norm(ex.system or ""), *(norm(c) for _, c in ex.history), norm(ex.input), norm(ex.output))


def run(ctx: AuditContext) -> CheckResult:
    recs = ctx.records
    n = len(recs)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i in range(n):
        groups[example_key(ctx, i)].append(i)
    exact = [g for g in groups.values() if len(g) > 1]
    evidence = [
        Evidence(
            f"{len(g)} identical copies",
            [recs[i].line for i in g],
            [recs[g[0]].example.input[:120]],
            ctx.data.name,
        )
        for g in sorted(exact, key=lambda g: (-len(g), g[0]))
    ]
    extra_exact = sum(len(g) - 1 for g in exact)
    metrics: dict[str, object] = {"exact_groups": len(exact), "exact_extra_copies": extra_exact}
    near_note = ""
    extra_near = 0
    if ctx.use_embeddings:
        thr = ctx.config.near_duplicate_threshold
        out_norm = [norm(r.example.output) for r in recs]
        key_of = {i: id(g) for g in groups.values() for i in g}
        uf = UnionFind(n)
        sims: dict[tuple[int, int], float] = {}
        for i, j, s in near_pairs(ctx.embeddings, thr):
            if key_of[i] != key_of[j] and out_norm[i] == out_norm[j]:
                uf.union(i, j)
                sims[(i, j)] = s
        near = []
        for g in uf.groups():
            distinct = {key_of[i] for i in g}
            if len(distinct) > 1:
                near.append(g)
        for g in sorted(near, key=lambda g: (-len(g), g[0])):
            best = max((s for (a, b), s in sims.items() if a in g and b in g), default=thr)
            evidence.append(
                Evidence(
                    f"{len(g)} near-identical examples (cosine up to {best:.3f}, same output)",
                    [recs[i].line for i in g],
                    [recs[i].example.input[:120] for i in g[:3]],
                    ctx.data.name,
                )
            )
            extra_near += len({key_of[i] for i in g}) - 1
        metrics.update(near_groups=len(near), near_extra_copies=extra_near, threshold=thr)
    else:
        near_note = " (near duplicates not searched: embeddings off)"
    extra = extra_exact + extra_near
    metrics["share"] = round(extra / n, 4) if n else 0.0
    status: Status = "pass" if extra == 0 else "fail" if extra > FAIL_SHARE * n else "warn"
    if extra == 0:
        reason = f"no duplicates among {n} examples{near_note}"
    else:
        reason = (
            f"{extra} redundant example(s) ({extra / n:.1%}): {len(exact)} exact group(s)"
            + (f", {metrics.get('near_groups', 0)} near-identical group(s)" if ctx.use_embeddings else "")
            + near_note
            + "; duplicates over-weight what they say"
        )
    return CheckResult(NAME, TITLE, status, reason, evidence, metrics)
