"""8. Representativeness: does the training data look like production, and is the test set clean?

Production: the share of queries with a training input within ``coverage_threshold`` (cosine) and an
MMD two-sample test on the embeddings. Test: train/test leakage, exact (same normalised input) and
near (cosine >= ``near_duplicate_threshold``).
"""

from __future__ import annotations

from typing import Any

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status, worst
from tuneworth.audit.neighbors import best_match
from tuneworth.audit.text import norm
from tuneworth.audit.twosample import mmd_test

NAME = "representativeness"
TITLE = "Representativeness"
FAIL_COVERAGE, WARN_COVERAGE, ALPHA = 0.5, 0.8, 0.01


def run(ctx: AuditContext) -> CheckResult:
    prod, test = ctx.production, ctx.test
    if (prod is None or not prod.records) and (test is None or not test.records):
        return CheckResult(NAME, TITLE, "skip", "no production sample or test set to compare with (--production, --test)")
    status: Status = "pass"
    reasons: list[str] = []
    evidence: list[Evidence] = []
    metrics: dict[str, Any] = {}
    if prod is not None and prod.records:
        if not ctx.use_embeddings:
            reasons.append("production comparison needs embeddings (off)")
        else:
            thr = ctx.config.coverage_threshold
            best, arg = best_match(ctx.production_embeddings, ctx.embeddings)
            covered = float((best >= thr).mean())
            t = mmd_test(ctx.production_embeddings, ctx.embeddings, seed=0)
            metrics["production"] = {
                "n": len(prod.records), "coverage": round(covered, 4), "threshold": thr,
                "mmd2": round(t.statistic, 6), "p_value": round(t.p_value, 4), "permutations": t.permutations,
                "similarity_p50": round(float(sorted(best.tolist())[len(best) // 2]), 3),
            }
            reasons.append(f"{covered:.0%} of {len(prod.records)} production queries have a training input within cosine {thr}")
            if covered < WARN_COVERAGE:
                status = worst(status, "fail" if covered < FAIL_COVERAGE else "warn")
                far = sorted(range(len(best)), key=lambda i: float(best[i]))[:5]
                evidence.append(Evidence(f"least covered production queries (best cosine {float(best[far[0]]):.2f}..)",
                                         [prod.records[i].line for i in far],
                                         [prod.records[i].example.input[:80] for i in far[:3]], prod.name))
            reasons.append(f"MMD two-sample test p={t.p_value:.3f}")
            if t.p_value < ALPHA:
                status = worst(status, "warn")
                reasons[-1] += " (production differs from training)"
                evidence.append(Evidence(f"embedding distributions differ (MMD² {t.statistic:.4f}, p={t.p_value:.3f}, "
                                         f"{t.n_x} vs {t.n_y} sampled)", [], [], prod.name))
    if test is not None and test.records:
        train_norm: dict[str, int] = {}
        for i, r in enumerate(ctx.records):
            train_norm.setdefault(norm(r.example.input), i)
        exact = [(j, train_norm[norm(r.example.input)]) for j, r in enumerate(test.records) if norm(r.example.input) in train_norm]
        near: list[tuple[int, int, float]] = []
        if ctx.use_embeddings:
            best, arg = best_match(ctx.test_embeddings, ctx.embeddings)
            exact_j = {j for j, _ in exact}
            near = [(j, int(arg[j]), float(best[j])) for j in range(len(test.records))
                    if j not in exact_j and best[j] >= ctx.config.near_duplicate_threshold]
        metrics["leakage"] = {"test": len(test.records), "exact": len(exact), "near": len(near)}
        for j, i in exact:
            evidence.append(Evidence("test input also in training (exact)", [test.records[j].line],
                                     [f"{test.records[j].example.input[:80]} = {ctx.data.name}:{ctx.records[i].line}"], test.name))
        for j, i, s in near:
            evidence.append(Evidence(f"test input nearly identical to training (cosine {s:.3f})", [test.records[j].line],
                                     [f"{test.records[j].example.input[:70]} ~ {ctx.data.name}:{ctx.records[i].line} "
                                      f"{ctx.records[i].example.input[:70]}"], test.name))
        if exact:
            status = worst(status, "fail")
        elif near:
            status = worst(status, "warn")
        reasons.append(f"leakage: {len(exact)} exact, {len(near)} near-duplicate test input(s) of {len(test.records)}"
                       + ("" if ctx.use_embeddings else " (near not searched: embeddings off)"))
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)
