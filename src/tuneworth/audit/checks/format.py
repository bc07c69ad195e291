"""1. Format: every problem the tolerant reader found, with its line, summarised by kind.

OpenAI rejects a whole training file for one malformed line, so any error-level problem fails.
"""

from __future__ import annotations

from collections import defaultdict

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Problem

NAME = "format"
TITLE = "Format"


def _group(problems: list[Problem]) -> list[Evidence]:
    by_kind: dict[tuple[str, str, str], list[Problem]] = defaultdict(list)
    for p in problems:
        by_kind[(p.file, p.kind, p.severity)].append(p)
    ev = []
    for (file, kind, severity), ps in sorted(by_kind.items(), key=lambda kv: (kv[0][2] != "error", kv[0][0], -len(kv[1]))):
        lines = [p.line for p in ps if p.line is not None]
        ev.append(
            Evidence(
                message=f"{kind} ({severity}): {len(ps)}x" if len(ps) > 1 else f"{kind} ({severity}): {ps[0].message}",
                lines=lines,
                examples=[f"line {p.line}: {p.message}" if p.line else p.message for p in ps[:3]] if len(ps) > 1 else [],
                file=file,
            )
        )
    return ev


def run(ctx: AuditContext) -> CheckResult:
    ds = ctx.data
    problems = list(ds.problems)
    for other in (ctx.production, ctx.test):
        if other is not None:
            problems.extend(other.problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    by_kind: dict[str, int] = defaultdict(int)
    for p in problems:
        by_kind[p.kind] += 1
    bad_lines = len({(p.file, p.line) for p in errors})
    metrics = {
        "format": ds.format,
        "lines": ds.n_lines,
        "usable": len(ds.records),
        "bad_lines": bad_lines,
        "by_kind": dict(sorted(by_kind.items())),
    }
    summary = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1]) if k not in ("crlf", "blank_lines"))
    unreadable = [d for d in (ds, ctx.production, ctx.test) if d is not None and not d.readable]
    if unreadable:
        reasons = []
        for d in unreadable:
            first = next((p for p in d.problems if p.severity == "error"), None)
            where = f"{d.name}:{first.line}" if first and first.line else d.name
            reasons.append(f"cannot read {where}: {first.message if first else 'no examples'}")
        return CheckResult(NAME, TITLE, "fail", "; ".join(reasons), _group(problems), metrics)
    if errors:
        reason = f"{len(errors)} problem(s) on {bad_lines} line(s) ({summary}); OpenAI rejects a file with any"
        return CheckResult(NAME, TITLE, "fail", reason, _group(problems), metrics)
    if warnings:
        reason = f"{len(ds.records)} usable {ds.format} records, with warnings: {summary}"
        return CheckResult(NAME, TITLE, "warn", reason, _group(problems), metrics)
    return CheckResult(NAME, TITLE, "pass", f"all {len(ds.records)} records are valid {ds.format}", _group(problems), metrics)
