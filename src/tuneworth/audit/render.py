"""The audit as text (terminal) and Markdown (run records), grouped by checklist item.

Both read only the report's dict form, so a run record's ``audit`` section re-renders the same way.
"""

from __future__ import annotations

from typing import Any

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _short(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _where(ev: dict[str, Any]) -> str:
    lines = ev.get("lines") or []
    if not lines:
        return ev.get("file", "")
    total = len(lines) + ev.get("more_lines", 0)
    shown = ", ".join(str(n) for n in lines[:10]) + (f" … (+{total - 10})" if total > 10 else "")
    return f"{ev.get('file') or 'line'}:{shown}"


def headline(report: dict[str, Any]) -> str:
    c = report["counts"]
    parts = [f"{c[s]} {s}" for s in ("fail", "warn", "pass", "skip") if c.get(s)]
    src = report.get("inputs", {}).get("kind_source", "task")
    return (
        f"{report['data']} · {report['n_examples']} examples · {report['kind']} outputs ({src}) · "
        + ", ".join(parts)
    )


def render_text(report: dict[str, Any], *, max_evidence: int = 5, max_examples: int = 2) -> str:
    """The human report: one block per check, its reason, and the first pieces of evidence."""
    out = [f"tuneworth audit: {headline(report)}", ""]
    for i, c in enumerate(report["checks"], 1):
        out.append(f"{i}. {c['title']:<22} {MARK[c['status']]}  {c['reason']}")
        evidence = c.get("evidence") or []
        for ev in evidence[:max_evidence]:
            out.append(f"     - {_short(ev['message'], 110)}")
            where = _where(ev)
            if where:
                out.append(f"       at {where}")
            for ex in (ev.get("examples") or [])[:max_examples]:
                out.append(f"       e.g. {_short(ex, 100)}")
        if len(evidence) > max_evidence:
            out.append(f"     … {len(evidence) - max_evidence} more (--json for all)")
    out.append("")
    return "\n".join(out)


def render_markdown(report: dict[str, Any], *, max_evidence: int = 3) -> str:
    """The ``## Data audit`` section of a run's summary.md."""
    lines = ["## Data audit", "", f"{headline(report)}", ""]
    for i, c in enumerate(report["checks"], 1):
        lines.append(f"{i}. **{c['title']}**: {c['status']}. {c['reason']}")
        if c["status"] in ("warn", "fail"):
            for ev in (c.get("evidence") or [])[:max_evidence]:
                where = _where(ev)
                lines.append(f"   - {_short(ev['message'], 120)}" + (f" (at `{where}`)" if where else ""))
    lines.append("")
    return "\n".join(lines)
