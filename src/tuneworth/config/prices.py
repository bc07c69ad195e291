"""The dated prices table (package data ``prices.toml``), merged with the task file's overrides.

Prices are data, not code: the bundled table carries the date it was copied and its sources, and a
task file can override or add any model or hardware entry. Lookups never guess silently: a model
that is not in the table gives ``None`` and the caller says "no price" in the report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from tuneworth.errors import ConfigError


@dataclass(frozen=True)
class Price:
    """Dollars per 1M tokens for one model (training per 1M trained tokens)."""

    model: str
    input: float
    output: float
    training: float | None = None
    ft_input: float | None = None
    ft_output: float | None = None
    source: str = "table"

    def fine_tuned(self, markup: float) -> tuple[float, float, bool]:
        """(input, output, estimated): fine-tuned inference prices, ``markup`` x base when unlisted."""
        if self.ft_input is not None and self.ft_output is not None:
            return self.ft_input, self.ft_output, False
        return self.input * markup, self.output * markup, True


@dataclass
class PriceTable:
    as_of: str
    sources: list[str]
    fine_tuned_markup: float
    models: dict[str, Price] = field(default_factory=dict)
    hardware: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    overridden: list[str] = field(default_factory=list)

    def price(self, model: str | None) -> Price | None:
        """The price of ``provider/name`` (``local/ft:...`` and ``openai/ft:BASE:...`` map to their base)."""
        if not model:
            return None
        if model in self.models:
            return self.models[model]
        provider, _, name = model.partition("/")
        if name.startswith("ft:"):
            base = name[3:].split(":", 1)[0]
            return self.models.get(f"{provider}/{base}")
        # Dated snapshots ("gpt-4o-mini-2024-07-18") are priced as their family.
        for known in sorted(self.models, key=len, reverse=True):
            if model.startswith(known + "-"):
                return self.models[known]
        return None

    def hourly(self, device: str) -> float:
        if device not in self.hardware:
            raise ConfigError(
                f"economics.local_device = {device!r} is not in the prices table",
                hint=f"use one of {', '.join(sorted(self.hardware))} or add [economics.hardware] {device} = DOLLARS_PER_HOUR",
            )
        return self.hardware[device]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "sources": self.sources,
            "fine_tuned_markup": self.fine_tuned_markup,
            "overridden": self.overridden,
        }


def _bundled() -> dict[str, Any]:
    text = resources.files("tuneworth.config").joinpath("prices.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_prices(economics: dict[str, Any] | None = None) -> PriceTable:
    """The bundled table with ``economics.prices`` / ``economics.hardware`` overrides applied.

    ``economics`` is the task's resolved ``economics`` section as a dict (from a Task or a run record).
    """
    raw = _bundled()
    table = PriceTable(
        as_of=str(raw["as_of"]),
        sources=list(raw.get("sources", [])),
        fine_tuned_markup=float(raw.get("fine_tuned_markup", 1.5)),
        hardware={k: float(v) for k, v in raw.get("hardware", {}).items()},
        throughput={k: float(v) for k, v in raw.get("throughput", {}).items()},
    )
    for name, entry in raw.get("models", {}).items():
        table.models[name] = Price(model=name, **entry)
    eco = economics or {}
    for name, entry in (eco.get("prices") or {}).items():
        given = {k: v for k, v in entry.items() if v is not None}
        table.models[name] = Price(model=name, source="task file", **given)
        table.overridden.append(name)
    for name, dollars in (eco.get("hardware") or {}).items():
        table.hardware[name] = float(dollars)
        table.overridden.append(f"hardware:{name}")
    return table
