"""Which decodings a climb tries, and how a strategy is decoded with each.

``decoding.modes`` in the task names what to try; ``constrained`` resolves by the task's output kind
and what the provider declares it can do (``Provider.decodings``): label tasks get label scoring
(``choice``), JSON tasks get schema-guided decoding (``schema``, local) or Structured Outputs
(``structured``, API). A mode that cannot run is skipped with the reason (recorded, the run goes on);
labels that tokenize identically are an error before anything runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuneworth.config.task import Task
from tuneworth.errors import UnsupportedSchemaError

if TYPE_CHECKING:
    from tuneworth.providers.base import Provider

FREE = "free"
CONSTRAINED = ("choice", "schema", "structured", "json_object")
FITS = {"choice": "label", "schema": "json", "structured": "json", "json_object": "json"}


@dataclass
class DecodingPlan:
    modes: list[str] = field(default_factory=lambda: [FREE])
    """Concrete decodings to try, ``free`` first when asked for."""
    skipped: list[dict[str, str]] = field(default_factory=list)
    """``{"mode", "reason"}`` for every asked-for decoding that cannot run."""


def plan_decodings(task: Task, schema: dict[str, Any] | None, provider: Provider) -> DecodingPlan:
    """Resolve ``task.decoding.modes`` against the task kind and the provider's declared decodings;
    the provider checks the label set and the schema it is asked to decode to."""
    return plan_modes(task, schema, provider.decodings, provider.model_id, provider)


def plan_modes(
    task: Task,
    schema: dict[str, Any] | None,
    can: frozenset[str],
    model_id: str,
    checker: Provider | None = None,
) -> DecodingPlan:
    """``plan_decodings`` for a model that is not loaded (the estimate): the decodings ``can`` its
    provider declares; ``checker`` None skips the label and schema checks."""
    kind = task.output.kind
    plan = DecodingPlan(modes=[])
    wanted: list[str] = []
    for asked in task.decoding.modes:
        mode: str = asked
        if mode == "constrained":
            if kind == "label":
                mode = "choice"
            elif kind == "json":
                mode = "schema" if "schema" in can else "structured"
            else:
                plan.skipped.append(
                    {"mode": "constrained", "reason": "text tasks have no label set or schema to constrain to"}
                )
                continue
        if mode not in wanted:
            wanted.append(mode)
    for mode in wanted:
        if mode == FREE:
            plan.modes.append(mode)
            continue
        if FITS[mode] != kind:
            plan.skipped.append({"mode": mode, "reason": f"{mode} decoding is for {FITS[mode]} tasks"})
            continue
        if mode not in can:
            plan.skipped.append({"mode": mode, "reason": f"{model_id} cannot do {mode} decoding"})
            continue
        if mode == "choice" and checker is not None:
            checker.check_choices(task.output.labels or [])  # identical tokenizations: a ConfigError
        if mode == "schema" and checker is not None:
            try:
                checker.check_schema(schema or {"type": "object"})
            except UnsupportedSchemaError as e:
                plan.skipped.append({"mode": mode, "reason": e.message})
                continue
        plan.modes.append(mode)
    if not plan.modes:
        plan.modes = [FREE]
    return plan


def response_format(schema: dict[str, Any] | None, mode: str) -> dict[str, Any] | None:
    """OpenAI's ``response_format`` for a decoding (local models honour the same shapes)."""
    if mode in ("schema", "structured"):
        spec: dict[str, Any] = {"name": "answer", "schema": schema or {"type": "object"}, "strict": True}
        return {"type": "json_schema", "json_schema": spec}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def with_decoding(strategy: Any, mode: str, labels: list[str] | None, schema: dict[str, Any] | None) -> Any:
    """A copy of ``strategy`` decoded with ``mode`` (its config records the mode unless free)."""
    config = {k: v for k, v in strategy.config.items() if k != "decoding"}
    if mode != FREE:
        config["decoding"] = mode
    return dataclasses.replace(
        strategy,
        config=config,
        decoding=mode,
        response_format=response_format(schema, mode),
        choices=tuple(labels or ()) if mode == "choice" else (),
    )
