"""Markdown lines for the record's ``retrieval`` and ``diagnosis`` sections (L3 and the diagnosis)."""

from __future__ import annotations

from typing import Any


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def render_retrieval(retrieval: dict[str, Any] | None) -> list[str]:
    if not retrieval:
        return []
    lines = ["## L3 retrieval", ""]
    if retrieval.get("mode") == "dynamic_fewshot":
        lines.append(
            "- no documents: L3 ran **dynamic few-shot** (the most similar training examples as "
            f"demonstrations), k={retrieval.get('k')}, budget {retrieval.get('context_tokens')} tokens"
        )
        return [*lines, ""]
    idx = retrieval.get("index") or {}
    lines.append(
        f"- index: {idx.get('documents')} documents, {idx.get('chunks')} chunks ({idx.get('status')}); "
        f"{retrieval.get('retrieval')} ranking, k={retrieval.get('k')}, budget {retrieval.get('context_tokens')} tokens"
    )
    for s in idx.get("skipped") or []:
        lines.append(f"- skipped {s['path']}: {s['reason']}")
    for key, label in (("quality", "test items"), ("quality_all_labelled", "all examples with gold sources")):
        q = retrieval.get(key)
        if not q:
            continue
        if q.get("metric") == "gold_sources":
            k = q["k"]
            lines.append(
                f"- quality on {label} (n={q['n']}): recall@{k} {_pct(q.get(f'recall@{k}'))}, "
                f"MRR {q.get('mrr'):.3f}"
            )
        else:
            lines.append(f"- quality on {label} (n={q['n']}): context contains the answer {_pct(q.get('containment'))}")
    return [*lines, ""]


def render_diagnosis(diagnosis: dict[str, Any] | None) -> list[str]:
    if not diagnosis or "counts" not in diagnosis:
        return []
    c, sh = diagnosis["counts"], diagnosis["shares"]
    lines = [
        "## Diagnosis: knowledge or behaviour",
        "",
        f"- {diagnosis['verdict']}",
        f"- test items: {c['ok']} right at {diagnosis['rungs'][0]}, knowledge {c['knowledge']} ({_pct(sh['knowledge'])}), "
        f"behaviour {c['behaviour']} ({_pct(sh['behaviour'])}), unfixed {c['unfixed']} ({_pct(sh['unfixed'])}); "
        f"regressed later: {diagnosis['regressed']}",
    ]
    for field, fc in (diagnosis.get("fields") or {}).items():
        fcnt = fc["counts"]
        lines.append(
            f"- field `{field}`: {fc['failing']} wrong at first; knowledge {fcnt['knowledge']}, "
            f"behaviour {fcnt['behaviour']}, unfixed {fcnt['unfixed']}"
        )
    return [*lines, ""]
