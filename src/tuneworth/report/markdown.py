"""The Markdown summary written into every run directory."""

from __future__ import annotations

from typing import Any

from tuneworth.report.diagnosis import render_diagnosis, render_retrieval
from tuneworth.report.format import COLUMNS, cells


def render_markdown(header: dict[str, Any], summary: dict[str, Any]) -> str:
    sizes = summary["sizes"]
    lines = [
        f"# tuneworth run: {summary['task']}",
        "",
        f"- model: `{summary['model']}`",
        f"- metric: `{summary['metric']}` (test n={sizes['test']}, validation n={sizes['validation']}, train n={sizes['train']})",
        f"- seed: {header.get('seed')}, tuneworth {header.get('tuneworth_version')}, {header.get('seconds', '?')} s",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in summary["rungs"]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    lines.append("")
    lines += model_and_judge_lines(summary)
    return "\n".join(lines) + "\n" + render_details(header, summary)


def model_and_judge_lines(summary: dict[str, Any]) -> list[str]:
    """Each rung's model (when they differ) and the judge's calibration and warnings."""
    lines = []
    for name, model in (summary.get("models") or {}).items():
        lines.append(f"- {name} model: `{model}`")
    judge = summary.get("judge")
    if judge:
        lines.append(f"- judge: `{judge['model']}` ({judge['mode']})")
        cal = judge.get("calibration")
        if cal and cal.get("spearman") is not None:
            lo, hi = cal["spearman_ci"]
            kappa = kappa_text(cal)
            lines.append(f"- judge agreement with people: Spearman {cal['spearman']:.2f} [{lo:.2f}, {hi:.2f}] on {cal['scored']} items{kappa}")
        for w in judge.get("warnings") or []:
            lines.append(f"- **warning**: {w}")
    return [*lines, ""] if lines else []


def kappa_text(cal: dict[str, Any]) -> str:
    """", quadratic kappa 0.41 [0.10, 0.70]" (1-5 scores) or ", kappa ..." (preferences), or ""."""
    for key, name in (("kappa_quadratic", "quadratic kappa"), ("kappa", "kappa")):
        if cal.get(key) is not None:
            lo, hi = cal.get("kappa_ci") or (None, None)
            return f", {name} {cal[key]:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
    return ""


def render_details(header: dict[str, Any], summary: dict[str, Any]) -> str:
    """Everything below the table: secondary metrics and every candidate's validation score."""
    lines = []
    for row in summary["rungs"]:
        m = row.get("metrics") or {}
        if m:
            parts = [f"{k} {v:.0%}" for k, v in m.items() if isinstance(v, float)]
            parts += [f"{k} {v}" for k, v in m.items() if isinstance(v, int)]
            parts += [f"{f} {v:.0%}" for f, v in (m.get("field_accuracy") or {}).items()]
            lines.append(f"- {row['name']} details: " + ", ".join(parts))
    lines.append("")
    for skip in (header.get("decoding") or {}).get("skipped", []):
        lines.append(f"- decoding {skip['mode']} skipped: {skip['reason']}")
    from tuneworth.decoding.gap import ladder_format_gap

    kind = ((header.get("config") or {}).get("output") or {}).get("kind")
    if kind in ("label", "json") and (gap := ladder_format_gap(summary["rungs"])) is not None:
        lines.append(f"- format, prompting vs fine-tuning: {gap}")
    for name, info in header.get("rungs", {}).items():
        lines.append(f"## {name}: validation scores")
        lines.append("")
        for cand in info.get("validation", []):
            mark = " (chosen)" if cand["config"] == info.get("chosen") else ""
            cfg = ", ".join(f"{k}={v}" for k, v in cand["config"].items())
            lines.append(f"- {cfg}: {cand['score']:.3f}{mark}")
        for note in info.get("notes", []):
            lines.append(f"- note: {note}")
        if info.get("decoding"):
            lines.append(f"- format gap: {info['decoding']['verdict']}")
        lines.append("")
    if header.get("audit"):
        from tuneworth.audit.render import render_markdown as audit_markdown

        lines.append(audit_markdown(header["audit"]))
    lines += render_retrieval(header.get("retrieval")) + render_diagnosis(header.get("diagnosis"))
    return "\n".join(lines)
