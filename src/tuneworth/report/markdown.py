"""The Markdown summary written into every run directory (summary.md), from the typed record."""

from __future__ import annotations

from typing import Any

from tuneworth.record.schema import RunHeader, Summary
from tuneworth.report.diagnosis import render_diagnosis, render_retrieval
from tuneworth.report.format import COLUMNS, cells


def render_markdown(header: RunHeader, summary: Summary) -> str:
    sizes = summary.sizes
    lines = [
        f"# tuneworth run: {summary.task}",
        "",
        f"- model: `{summary.model}`",
        f"- metric: `{summary.metric}` (test n={sizes.get('test')}, validation n={sizes.get('validation')}, train n={sizes.get('train')})",
        f"- seed: {header.seed}, tuneworth {header.tuneworth_version}, {header.seconds if header.seconds is not None else '?'} s",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in summary.rungs:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    lines.append("")
    lines += model_and_judge_lines(summary)
    return "\n".join(lines) + "\n" + render_details(header, summary)


def model_and_judge_lines(summary: Summary) -> list[str]:
    """Each rung's model (when they differ) and the judge's calibration and warnings."""
    lines = [f"- {name} model: `{model}`" for name, model in (summary.models or {}).items()]
    judge = summary.judge
    if judge is not None:
        extra = judge.model_extra or {}  # the judge section is open by design (record.schema.JudgeSection)
        lines.append(f"- judge: `{judge.model}` ({extra.get('mode')})")
        cal = extra.get("calibration")
        if isinstance(cal, dict) and cal.get("spearman") is not None:
            lo, hi = cal["spearman_ci"]
            lines.append(
                f"- judge agreement with people: Spearman {cal['spearman']:.2f} [{lo:.2f}, {hi:.2f}] "
                f"on {cal['scored']} items{kappa_text(cal)}"
            )
        lines += [f"- **warning**: {w}" for w in judge.warnings]
    return [*lines, ""] if lines else []


def kappa_text(cal: dict[str, Any]) -> str:
    """", quadratic kappa 0.41 [0.10, 0.70]" (1-5 scores) or ", kappa ..." (preferences), or ""."""
    for key, name in (("kappa_quadratic", "quadratic kappa"), ("kappa", "kappa")):
        if cal.get(key) is not None:
            lo, hi = cal.get("kappa_ci") or (None, None)
            return f", {name} {cal[key]:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
    return ""


def render_details(header: RunHeader, summary: Summary) -> str:
    """Everything below the table: secondary metrics and every candidate's validation score."""
    lines = []
    for row in summary.rungs:
        m = row.metrics
        if m:
            parts = [f"{k} {v:.0%}" for k, v in m.items() if isinstance(v, float)]
            parts += [f"{k} {v}" for k, v in m.items() if isinstance(v, int)]
            fields = m["field_accuracy"] if isinstance(m.get("field_accuracy"), dict) else {}
            parts += [f"{f} {v:.0%}" for f, v in fields.items()]
            lines.append(f"- {row.name} details: " + ", ".join(parts))
    lines.append("")
    lines += [f"- decoding {skip.mode} skipped: {skip.reason}" for skip in header.decoding.skipped]
    from tuneworth.decoding.gap import ladder_format_gap

    output = header.config.get("output")
    kind = output.get("kind") if isinstance(output, dict) else None
    if kind in ("label", "json") and (gap := ladder_format_gap([r.model_dump() for r in summary.rungs])) is not None:
        lines.append(f"- format, prompting vs fine-tuning: {gap}")
    for name, info in header.rungs.items():
        lines += [f"## {name}: validation scores", ""]
        for cand in info.validation:
            mark = " (chosen)" if cand.config == info.chosen else ""
            cfg = ", ".join(f"{k}={v}" for k, v in cand.config.items())
            lines.append(f"- {cfg}: {cand.score:.3f}{mark}")
        lines += [f"- note: {note}" for note in info.notes]
        if info.decoding is not None:
            lines.append(f"- format gap: {info.decoding.verdict}")
        lines.append("")
    if header.audit is not None:
        from tuneworth.audit.render import render_markdown as audit_markdown

        lines.append(audit_markdown(header.audit.model_dump(mode="json")))
    lines += render_retrieval(header.retrieval) + render_diagnosis(header.diagnosis)
    return "\n".join(lines)
