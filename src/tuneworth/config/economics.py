"""The ``[economics]`` and ``[decision]`` sections: volumes, prices, engineer hours, and the decision's thresholds.

``economics.local_device`` is checked against the dated prices table (``config/prices.py``) when the task loads.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tuneworth.config.base import Strict as _Strict
from tuneworth.config.prices import load_prices


class ModelPrice(_Strict):
    input: float = Field(ge=0)
    """$ per 1M prompt tokens."""
    output: float = Field(ge=0)
    """$ per 1M completion tokens."""
    training: float | None = Field(default=None, ge=0)
    """$ per 1M trained tokens (dataset tokens x epochs)."""
    ft_input: float | None = Field(default=None, ge=0)
    """$ per 1M prompt tokens on the fine-tuned model (default: input x the table's markup)."""
    ft_output: float | None = Field(default=None, ge=0)
    """$ per 1M completion tokens on the fine-tuned model."""


class EconomicsConfig(_Strict):
    requests_per_month: int | None = Field(default=None, ge=0)
    """Expected production volume, for break-even."""
    price_reference: str | None = None
    """Model whose prices to use for cost estimates (e.g. ``openai/gpt-4o-mini``)."""
    human_hourly_rate: float = Field(default=100.0, ge=0)
    """Cost of an engineer hour, for the fixed costs of fine-tuning."""
    data_prep_hours: tuple[float, float] = (10.0, 40.0)
    """Engineer hours to prepare fine-tuning data: [low, high] (the decision uses the middle)."""
    iteration_hours: tuple[float, float] = (5.0, 20.0)
    """Engineer hours to iterate on fine-tuning runs: [low, high]."""
    payback_months: float = Field(default=12.0, gt=0)
    """Months in which fine-tuning's fixed costs must be repaid (the break-even horizon)."""
    cost_per_error: float | None = Field(default=None, ge=0)
    """Dollars a wrong answer costs the business; adds the value of errors avoided to break-even."""
    local_device: str = "cpu-2core"
    """Hardware whose $/hour prices local models (a key of the prices table's ``hardware``)."""
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    """Per-model price overrides ($/1M tokens), merged over the bundled dated table."""
    hardware: dict[str, float] = Field(default_factory=dict)
    """Hardware $/hour overrides, merged over the bundled table."""

    @model_validator(mode="after")
    def _ranges(self) -> EconomicsConfig:
        for key in ("data_prep_hours", "iteration_hours"):
            lo, hi = getattr(self, key)
            if not 0 <= lo <= hi:
                raise ValueError(f"economics.{key} must be [low, high] with 0 <= low <= high")
        known = load_prices({"hardware": self.hardware}).hardware
        if self.local_device not in known:
            raise ValueError(
                f"economics.local_device {self.local_device!r} is not in the prices table; use one of "
                f"{', '.join(sorted(known))} or add it under [economics.hardware]"
            )
        return self


class DecisionConfig(_Strict):
    min_gain: float = Field(default=0.03, gt=0, lt=1)
    """Smallest score gain worth acting on (0.03 = 3 points); smaller differences count as no gain."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Significance level of the paired tests (after Holm correction across comparisons)."""
    power: float = Field(default=0.8, gt=0, lt=1)
    """Power used for the minimum detectable effect and the test size needed."""
