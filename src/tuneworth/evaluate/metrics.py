"""Metrics: score one parsed answer against the gold output.

Every metric returns a ``Score`` with the primary value in [0, 1], whether the answer was valid
structured output, and details (per-field matches, parse failures). Binary metrics (exact,
accuracy, object match) get Wilson intervals; field accuracy is continuous and gets a bootstrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tuneworth.data.text import normalize
from tuneworth.evaluate.parse import Parsed

BINARY = {"exact", "normalized", "accuracy", "object_match"}


@dataclass(frozen=True)
class Score:
    value: float
    valid: bool
    details: dict[str, Any] = field(default_factory=dict)


def _norm_value(v: Any) -> Any:
    if isinstance(v, str):
        return normalize(v)
    if isinstance(v, list):
        return [_norm_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm_value(x) for k, x in v.items()}
    return v


def score_text(parsed: Parsed, raw: str, gold: str, metric: str) -> Score:
    exact = raw.strip() == gold.strip()
    norm = normalize(raw) == normalize(gold)
    value = exact if metric == "exact" else norm
    return Score(float(value), parsed.ok, {"exact": exact, "normalized": norm})


def score_label(parsed: Parsed, gold: str, labels: list[str]) -> Score:
    correct = parsed.ok and normalize(str(parsed.value)) == normalize(gold)
    details: dict[str, Any] = {"predicted": parsed.value, "unparseable": not parsed.ok}
    if not parsed.ok:
        details["reason"] = parsed.reason
    return Score(float(correct), parsed.ok, details)


def score_json(parsed: Parsed, gold: dict[str, Any], metric: str, validator: Any | None) -> Score:
    details: dict[str, Any] = {"parsed": parsed.ok}
    if not parsed.ok:
        details["reason"] = parsed.reason
        details["fields"] = {k: False for k in gold}
        details["object_match"] = False
        return Score(0.0, False, details)
    pred: dict[str, Any] = parsed.value
    schema_ok = True
    if validator is not None:
        errors = sorted(validator.iter_errors(pred), key=lambda e: list(e.path))
        schema_ok = not errors
        if errors:
            details["schema_error"] = errors[0].message[:200]
    fields = {k: k in pred and _norm_value(pred[k]) == _norm_value(v) for k, v in gold.items()}
    obj = all(fields.values()) and set(pred) == set(gold)
    details.update(schema_valid=schema_ok, fields=fields, object_match=obj)
    if metric == "object_match":
        value = float(obj)
    elif metric == "exact":
        value = float(json.dumps(pred, sort_keys=True) == json.dumps(gold, sort_keys=True))
    else:
        value = sum(fields.values()) / len(fields) if fields else float(obj)
    return Score(value, schema_ok, details)
