"""``tuneworth audit``: the training-data checklist from the command line.

Exit codes: 0 the audit ran (failures are reported, not fatal, unless ``--strict``), 1 a check failed
under ``--strict``, 2 the data cannot be read at all (or a usage error).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("audit")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--production", type=click.Path(path_type=Path), help="Production queries (JSONL, CSV or .txt) to compare coverage against.")
@click.option("--test", "test_file", type=click.Path(path_type=Path), help="Held-out examples to check for train/test leakage.")
@click.option("--task", type=click.Path(path_type=Path), help="Task file or directory: output kind, labels, schema, model, [audit] thresholds.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True, help="Exit 1 when any check fails.")
@click.option("--near-threshold", type=click.FloatRange(0, 1, min_open=True), help="Cosine for near-duplicates (default 0.95 or the task's).")
@click.option("--no-embeddings", is_flag=True, help="Skip the embedding-based parts (near duplicates, coverage, noise).")
def audit_cmd(
    data: Path,
    production: Path | None,
    test_file: Path | None,
    task: Path | None,
    as_json: bool,
    strict: bool,
    near_threshold: float | None,
    no_embeddings: bool,
) -> None:
    """Audit training DATA against the fine-tuning checklist (format, size, duplicates, contradictions,
    consistency, balance, edge cases, representativeness, label noise)."""
    from tuneworth.audit import audit
    from tuneworth.audit.render import render_text
    from tuneworth.config.task import AuditConfig, load_task

    t = load_task(task) if task is not None else None
    config = (t.audit if t is not None else AuditConfig()).model_copy()
    if near_threshold is not None:
        config.near_duplicate_threshold = near_threshold
    log = None if as_json else (lambda s: click.echo(f"  {s}", err=True))
    report = audit(
        data, production=production, test=test_file, task=t, config=config, embeddings=not no_embeddings, log=log
    )
    d = report.to_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(d))
    if not report.readable:
        click.echo(f"error: {report.checks[0].reason}", err=True)
        sys.exit(2)
    if strict and report.status == "fail":
        failed = ", ".join(c.name for c in report.checks if c.status == "fail")
        click.echo(f"audit failed under --strict: {failed}", err=True)
        sys.exit(1)
