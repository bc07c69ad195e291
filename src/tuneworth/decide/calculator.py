"""A break-even scenario without a run: ``tuneworth cost`` and the questionnaire use it.

The same prices table, fixed-cost and break-even rules as a run's ``costs`` section, fed with
token counts the user gives (or estimates from a task file) instead of measured ones.
"""

from __future__ import annotations

from typing import Any

from tuneworth.config.task import EconomicsConfig
from tuneworth.decide.breakeven import break_even
from tuneworth.decide.costs import finetune_fixed, rung_cost
from tuneworth.decide.prices import load_prices
from tuneworth.errors import ConfigError


def scenario(
    model: str,
    *,
    prompt_tokens: float,
    completion_tokens: float,
    ft_prompt_tokens: float,
    ft_completion_tokens: float | None = None,
    trained_tokens: float | None = None,
    train_examples: int | None = None,
    epochs: float = 3.0,
    score_gain: float | None = None,
    economics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per-1k costs of the cheaper rung and of a fine-tuned model, fixed costs and break-even."""
    eco = dict(economics or {})
    table = load_prices(eco)
    priced = eco.get("price_reference") or model
    if table.price(priced) is None:
        raise ConfigError(
            f"no price for {priced!r} in the prices table (as of {table.as_of})",
            hint="pass --model with a listed model (see `tuneworth cost --list`), or give "
            "--input-price/--output-price, or add [economics.prices] to the task file",
        )
    if trained_tokens is None:
        if not train_examples:
            raise ConfigError("give --trained-tokens, or --train-examples (x prompt+answer tokens x epochs)")
        trained_tokens = train_examples * (ft_prompt_tokens + (ft_completion_tokens or completion_tokens)) * epochs
    economics_cfg = EconomicsConfig.model_validate(eco)
    common: dict[str, Any] = {"table": table, "economics": economics_cfg}
    base = rung_cost("cheaper rung", model, trains=False, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, **common)
    tuned = rung_cost(
        "fine-tuned", model, trains=True, prompt_tokens=ft_prompt_tokens,
        completion_tokens=ft_completion_tokens or completion_tokens, **common,
    )
    fixed = finetune_fixed(model, trained_tokens=trained_tokens, training_seconds=None, estimated_tokens=None, **common)
    if base.usd_per_1k is None or tuned.usd_per_1k is None:
        raise ConfigError(f"no price for {priced!r}", hint="see `tuneworth cost --list`")
    be = break_even(
        fixed.total_usd.mid,
        tuned.usd_per_1k / 1000,
        base.usd_per_1k / 1000,
        payback_months=economics_cfg.payback_months,
        score_gain=score_gain,
        cost_per_error=economics_cfg.cost_per_error,
    )
    requests = economics_cfg.requests_per_month
    return {
        "model": model,
        "priced_as": priced,
        "prices_as_of": table.as_of,
        "base": base.model_dump(),
        "fine_tuned": tuned.model_dump(),
        "finetune": fixed.model_dump(),
        "break_even": be.model_dump(),
        "requests_per_month": requests,
        "pays_back": None if requests is None or be.never else requests >= (be.requests_per_month or 0.0),
    }
