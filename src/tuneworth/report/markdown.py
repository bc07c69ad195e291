"""The Markdown summary written into every run directory."""

from __future__ import annotations

from typing import Any

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
    return "\n".join(lines) + "\n" + render_details(header, summary)


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
    return "\n".join(lines)
