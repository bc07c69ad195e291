"""7. Edge-case coverage: how many training inputs are very short or long, near-empty, non-English, with
typos, numbers or URLs; given production queries, which of those kinds production sends more of, and
clusters of production queries with no close training example (listed with examples).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status
from tuneworth.audit.neighbors import UnionFind, best_match, near_pairs
from tuneworth.audit.text import NUMBER, URL, language, near_empty, typo_words, words

NAME = "coverage"
TITLE = "Edge-case coverage"
CLUSTER_SIM = 0.4
UNDER = 3.0  # production share more than 3x the training share (and >= 5%) is under-covered


def edge_flags(
    texts: list[str], vocab_texts: list[str], known: frozenset[str] = frozenset()
) -> tuple[dict[str, list[bool]], dict[str, str]]:
    """Which texts fall in each edge-case kind, and the typo-like words found (word -> likely word)."""
    toks = [t.split() for t in texts]
    lens = sorted(len(t) for t in toks)
    median = lens[len(lens) // 2] if lens else 0
    long_cut = max(60, 3 * median)
    typos = typo_words([words(t) for t in vocab_texts], known=known)
    tests: dict[str, Callable[[str, list[str]], bool]] = {
        "very short (<= 3 words)": lambda t, w: 0 < len(w) <= 3 and not near_empty(t),
        f"very long (> {long_cut} words)": lambda t, w: len(w) > long_cut,
        "near-empty": lambda t, w: near_empty(t),
        "non-English": lambda t, w: language(t) == "other",
        "typo-like words": lambda t, w: any(x in typos for x in words(t)),
        "numbers": lambda t, w: bool(NUMBER.search(t)),
        "URLs": lambda t, w: bool(URL.search(t)),
    }
    flags = {name: [fn(t, w) for t, w in zip(texts, toks, strict=True)] for name, fn in tests.items()}
    return flags, typos


def _example(text: str, kind: str, typos: dict[str, str]) -> str:
    if kind.startswith("typo"):
        found = [f"{w} (~{typos[w]})" for w in words(text) if w in typos]
        return f"{', '.join(found[:3])}: {text[:60]}"
    return text[:80]


def _clusters(vectors: Any, members: list[int]) -> list[list[int]]:
    """Single-link clusters (cosine >= CLUSTER_SIM) among the uncovered queries; singletons dropped."""
    uf = UnionFind(len(members))
    for a, b, _ in near_pairs(vectors[members], CLUSTER_SIM):
        uf.union(a, b)
    return sorted(([members[i] for i in g] for g in uf.groups()), key=lambda c: (-len(c), c[0]))


def run(ctx: AuditContext) -> CheckResult:
    train = ctx.inputs
    prod = ctx.production
    prod_texts = [r.example.input for r in prod.records] if prod else []
    known = ctx.tokens.vocabulary_words()
    flags, typos = edge_flags(train, train + prod_texts, known)
    shares = {k: sum(v) / len(v) for k, v in flags.items()}
    metrics: dict[str, Any] = {"train_shares": {k: round(v, 4) for k, v in shares.items()}}
    status: Status = "pass"
    reasons: list[str] = []
    evidence: list[Evidence] = []
    for k, v in flags.items():
        lines = [r.line for r, f in zip(ctx.records, v, strict=True) if f]
        if lines:
            evidence.append(Evidence(f"training inputs: {k}: {len(lines)} ({shares[k]:.0%})", lines,
                                     [_example(ctx.records[i].example.input, k, typos) for i, f in enumerate(v) if f][:2], ctx.data.name))
    if prod is None or not prod.records:
        present = ", ".join(f"{k} {s:.0%}" for k, s in shares.items())
        return CheckResult(NAME, TITLE, "pass", f"training inputs: {present} (give --production to compare)", evidence, metrics)
    evidence = []
    pflags, _ = edge_flags(prod_texts, train + prod_texts, known)
    pshares = {k: sum(v) / len(v) for k, v in pflags.items()}
    metrics["production_shares"] = {k: round(v, 4) for k, v in pshares.items()}
    for k, ps in pshares.items():
        if ps >= 0.05 and ps > UNDER * shares[k]:
            status = "warn"
            reasons.append(f"{k}: {ps:.0%} of production vs {shares[k]:.0%} of training")
            lines = [r.line for r, f in zip(prod.records, pflags[k], strict=True) if f]
            evidence.append(Evidence(f"under-covered: {k} ({ps:.0%} of production, {shares[k]:.0%} of training)", lines,
                                     [_example(prod_texts[i], k, typos) for i, f in enumerate(pflags[k]) if f][:3], prod.name))
    if ctx.use_embeddings:
        best, _ = best_match(ctx.production_embeddings, ctx.embeddings)
        thr = ctx.config.coverage_threshold
        uncovered = [i for i, s in enumerate(best.tolist()) if s < thr]
        clusters = _clusters(ctx.production_embeddings, uncovered) if uncovered else []
        metrics.update(uncovered=len(uncovered), uncovered_clusters=len(clusters), threshold=thr)
        if clusters:
            status = "warn"
            reasons.append(f"{len(clusters)} cluster(s) of production queries with no training example within cosine {thr}")
            for c in clusters:
                evidence.append(Evidence(
                    f"{len(c)} production queries like {prod_texts[c[0]][:60]!r} have no close training example "
                    f"(best cosine {max(float(best[i]) for i in c):.2f})",
                    [prod.records[i].line for i in c], [prod_texts[i][:80] for i in c[:3]], prod.name))
    if not reasons:
        reasons.append("production's edge cases are represented in training"
                       + ("" if ctx.use_embeddings else " (clusters not searched: embeddings off)"))
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)
