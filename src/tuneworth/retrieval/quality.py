"""Retrieval quality: recall@k and MRR against gold source ids, else answer containment.

Gold sources come from each example's ``metadata.sources`` (a list of document ids such as
``refunds.md`` or ``faq.jsonl#12``; ``metadata.source`` for one). A retrieved chunk matches a gold
id when it comes from that document (or is that exact chunk). Without gold sources, quality is how
often the top-k context contains the expected answer (for JSON answers: every string value of it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.data.text import normalize
from tuneworth.retrieval.index import Hit


def gold_sources(ex: Example) -> list[str]:
    meta = ex.meta.get("metadata") or {}
    sources = meta.get("sources", meta.get("source"))
    if isinstance(sources, str):
        return [sources]
    if isinstance(sources, list):
        return [s for s in sources if isinstance(s, str) and s]
    return []


def matches(chunk_id: str, source: str, gold: str) -> bool:
    """A gold id names a document (``refunds.md``), a file of records (``faq.jsonl`` matches
    ``faq.jsonl#gift-cards``), a record, a folder (``policies/``) or one exact chunk."""
    return (
        source == gold
        or chunk_id == gold
        or source.split("#", 1)[0] == gold
        or source.startswith(gold.rstrip("/") + "/")
    )


def ranks_and_recall(hits: Sequence[Hit], gold: list[str], k: int) -> tuple[float, float]:
    """(recall@k, reciprocal rank of the first relevant chunk in the whole ranking, 0 if none)."""
    found = {g for g in gold for h in hits[:k] if matches(h.chunk.id, h.chunk.source, g)}
    rr = next((1.0 / r for r, h in enumerate(hits, 1) if any(matches(h.chunk.id, h.chunk.source, g) for g in gold)),
              0.0)
    return len(found) / len(gold), rr


def _answer_needles(task: Task, output: str) -> list[str]:
    if task.output.kind == "json":
        try:
            value = json.loads(output)
        except json.JSONDecodeError:
            return [output]
        leaves: list[str] = []

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, str | int | float) and not isinstance(v, bool):
                leaves.append(str(v))

        walk(value)
        return leaves
    return [output]


def retrieval_quality(task: Task, examples: Sequence[Example], rankings: Sequence[Sequence[Hit]], k: int) -> dict[str, Any]:
    """Quality of ``rankings`` (one per example, best first) at depth ``k``."""
    with_gold = [(ex, hits, gold_sources(ex)) for ex, hits in zip(examples, rankings, strict=True)]
    with_gold = [t for t in with_gold if t[2]]
    if with_gold:
        pairs = [ranks_and_recall(hits, gold, k) for _, hits, gold in with_gold]
        return {
            "metric": "gold_sources",
            "k": k,
            "n": len(with_gold),
            "n_without_gold": len(examples) - len(with_gold),
            f"recall@{k}": round(sum(r for r, _ in pairs) / len(pairs), 4),
            "mrr": round(sum(rr for _, rr in pairs) / len(pairs), 4),
            "hit_rate": round(sum(1 for r, _ in pairs if r > 0) / len(pairs), 4),
        }
    contained = 0
    for ex, hits in zip(examples, rankings, strict=True):
        context = normalize(" ".join(h.chunk.text for h in hits[:k]))
        needles = [normalize(n) for n in _answer_needles(task, ex.output)]
        if needles and all(n and n in context for n in needles):
            contained += 1
    n = len(examples)
    return {"metric": "answer_containment", "k": k, "n": n, "containment": round(contained / n, 4) if n else None}
