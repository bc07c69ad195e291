"""Shared cell formatting for the terminal and Markdown tables (the row's stored interval, as is)."""

from __future__ import annotations

from typing import Any

from tuneworth.record.schema import SummaryRow
from tuneworth.stats.intervals import interval_text

COLUMNS = ["rung", "chosen", "score [95% CI]", "valid", "latency p50/p95", "tokens in/out", "errors"]


def config_text(config: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" if k == "k" else str(v) for k, v in config.items())


def cells(row: SummaryRow) -> list[str]:
    score = interval_text(row.score, row.ci_low, row.ci_high)
    valid = "n/a" if row.validity_rate is None else f"{row.validity_rate:.0%}"
    lat = f"{row.latency_p50_ms / 1000:.1f}/{row.latency_p95_ms / 1000:.1f} s"
    toks = f"{row.prompt_tokens_mean or 0:.0f}/{row.completion_tokens_mean or 0:.1f}"
    return [row.title or row.name, config_text(row.config), score, valid, lat, toks, str(row.errors)]
