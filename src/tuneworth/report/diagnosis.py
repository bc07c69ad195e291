"""Markdown lines for the record's ``retrieval`` and ``diagnosis`` sections (retrieval and the diagnosis)."""

from __future__ import annotations

from typing import Any

from tuneworth.record.schema import DiagnosisSection, RetrievalSection


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _quality_line(label: str, q: dict[str, Any]) -> str:
    # ``quality`` is open in the record (its metrics depend on whether items name gold sources).
    if q.get("metric") == "gold_sources":
        k = q["k"]
        return f"- quality on {label} (n={q['n']}): recall@{k} {_pct(q.get(f'recall@{k}'))}, MRR {q.get('mrr'):.3f}"
    return f"- quality on {label} (n={q['n']}): context contains the answer {_pct(q.get('containment'))}"


def render_retrieval(retrieval: RetrievalSection | None) -> list[str]:
    if retrieval is None:
        return []
    lines = ["## Retrieval", ""]
    if retrieval.mode == "dynamic_fewshot":
        lines.append(
            "- no documents: the retrieval rung ran **dynamic few-shot** (the most similar training examples "
            f"as demonstrations), k={retrieval.k}, budget {retrieval.context_tokens} tokens"
        )
        return [*lines, ""]
    idx = retrieval.index or {}
    lines.append(
        f"- index: {idx.get('documents')} documents, {idx.get('chunks')} chunks ({idx.get('status')}); "
        f"{retrieval.retrieval} ranking, k={retrieval.k}, budget {retrieval.context_tokens} tokens"
    )
    lines += [f"- skipped {s['path']}: {s['reason']}" for s in idx.get("skipped") or []]
    for q, label in ((retrieval.quality, "test items"), (retrieval.quality_all_labelled, "all examples with gold sources")):
        if q:
            lines.append(_quality_line(label, q))
    return [*lines, ""]


def render_diagnosis(diagnosis: DiagnosisSection | None) -> list[str]:
    if diagnosis is None or not diagnosis.counts:
        return []
    c, sh = diagnosis.counts, diagnosis.shares or {}
    lines = [
        "## Diagnosis: knowledge or behaviour",
        "",
        f"- {diagnosis.verdict}",
        f"- test items: {c['ok']} right at {diagnosis.rungs[0]}, knowledge {c['knowledge']} ({_pct(sh['knowledge'])}), "
        f"behaviour {c['behaviour']} ({_pct(sh['behaviour'])}), unfixed {c['unfixed']} ({_pct(sh['unfixed'])}); "
        f"regressed later: {diagnosis.regressed}",
    ]
    for field, fc in (diagnosis.fields or {}).items():
        fcnt = fc["counts"]
        lines.append(
            f"- field `{field}`: {fc['failing']} wrong at first; knowledge {fcnt['knowledge']}, "
            f"behaviour {fcnt['behaviour']}, unfixed {fcnt['unfixed']}"
        )
    return [*lines, ""]
