"""A break-even scenario without a run: ``tuneworth cost`` and the questionnaire use it.

The same prices table, fixed-cost and break-even rules as a run's ``costs`` section, fed with
token counts the user gives (or estimates from a task file) instead of measured ones.
"""

from __future__ import annotations

from typing import Any

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
    header = {"model": {"spec": model}, "training": {"trained_tokens": trained_tokens}}
    base = rung_cost(
        {"name": "L2", "prompt_tokens_mean": prompt_tokens, "completion_tokens_mean": completion_tokens},
        header, [], table, eco,
    )
    tuned = rung_cost(
        {"name": "L4", "prompt_tokens_mean": ft_prompt_tokens, "completion_tokens_mean": ft_completion_tokens or completion_tokens},
        header, [], table, eco,
    )
    fixed = finetune_fixed(header, [], table, eco)
    be = break_even(
        fixed["total_usd"]["mid"],
        tuned["usd_per_1k"] / 1000,
        base["usd_per_1k"] / 1000,
        payback_months=float(eco.get("payback_months") or 12.0),
        score_gain=score_gain,
        cost_per_error=eco.get("cost_per_error"),
    )
    requests = eco.get("requests_per_month")
    return {
        "model": model,
        "priced_as": priced,
        "prices_as_of": table.as_of,
        "base": base,
        "fine_tuned": tuned,
        "finetune": fixed,
        "break_even": be,
        "requests_per_month": requests,
        "pays_back": None if requests is None or be["never"] else requests >= be["requests_per_month"],
    }
