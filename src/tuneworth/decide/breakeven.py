"""Break-even: the monthly volume at which fine-tuning's fixed costs are repaid within the payback
horizon by its per-request savings over the best cheaper rung (plus, optionally, the value of the
errors it avoids). "Never" when fine-tuning costs more per request and avoids no paid-for errors.
"""

from __future__ import annotations

import math

from tuneworth.record.derived import BreakEven


def break_even(
    fixed_usd: float,
    tuned_usd_per_request: float,
    base_usd_per_request: float,
    *,
    payback_months: float = 12.0,
    score_gain: float | None = None,
    cost_per_error: float | None = None,
) -> BreakEven:
    """Requests per month at which ``fixed_usd`` is repaid in ``payback_months``; None means never."""
    saving = base_usd_per_request - tuned_usd_per_request
    value = 0.0
    if cost_per_error is not None and score_gain is not None:
        value = max(0.0, score_gain) * cost_per_error  # errors avoided per request x their cost
    per_request = saving + value
    common = {"fixed_usd": fixed_usd, "saving_per_request": saving, "value_per_request": value, "payback_months": payback_months}
    if per_request <= 0:
        reason = "fine-tuning costs more per request than the cheaper rung" + (
            " and avoids no priced errors" if value == 0 else ""
        )
        return BreakEven(**common, requests_per_month=None, never=True, reason=reason)
    return BreakEven(
        **common,
        requests_per_month=fixed_usd / (per_request * payback_months),
        never=False,
        reason=f"{fmt_usd(fixed_usd)} fixed / (${per_request * 1000:.4f} per 1k requests x {payback_months:g} months)",
    )


def monthly_cost(
    usd_per_request: float, requests_per_month: float, fixed_usd: float, payback_months: float
) -> float:
    """Monthly cost at a volume, with fixed costs amortised over the payback horizon."""
    return fixed_usd / payback_months + usd_per_request * requests_per_month


def fmt_usd(v: float | None) -> str:
    """Dollars as a person writes them: "$3,751", "$12.50", "$0.42", "$0.004" (two significant
    digits below a cent, so a small fixed cost is never rounded to "$0"); None -> "no price"."""
    if v is None:
        return "no price"
    if v == 0:
        return "$0"
    sign, a = ("-" if v < 0 else ""), abs(v)
    if a >= 100:
        return f"{sign}${a:,.0f}"
    if a >= 0.01:
        return f"{sign}${a:,.2f}"
    digits = 1 - math.floor(math.log10(a))  # two significant digits
    return f"{sign}${a:.{digits}f}".rstrip("0")


def fmt_volume(v: float | None) -> str:
    """1234567 -> '1.2M'; None -> 'never'."""
    if v is None:
        return "never"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{v / div:.1f}{unit}"
    return "under 1" if 0 < v < 0.5 else f"{v:.0f}"  # a tiny break-even is not "0 requests"
