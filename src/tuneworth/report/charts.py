"""Charts for the HTML report, drawn with matplotlib into inline SVG strings.

SVG keeps the report one self-contained file (nothing fetched at view time) and sharp at any zoom;
text stays text (``svg.fonttype = none``) so it is small and searchable. Figures are built on the
object API (no pyplot state), and matplotlib is imported only when a report is rendered.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from tuneworth.record.derived import TradePoint
from tuneworth.record.schema import SummaryRow

COLORS = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd"]


def _figure(width: float, height: float, *, left: float = 0.75, bottom: float = 0.45) -> Any:
    """A figure with fixed margins in inches (a layout engine measures every text twice: slow)."""
    import matplotlib

    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "tuneworth", "font.size": 9})
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height, top=1 - 0.15 / height)
    return fig


def _svg(fig: Any, label: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "tuneworth (matplotlib)"})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: it is inlined in HTML
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<svg ", f'<svg role="img" aria-label="{label}" class="chart" ', svg, count=1)
    return svg


def _error_bar(score: float, lo: float | None, hi: float | None) -> tuple[float, float]:
    """Distances from the score to the stored interval's ends (0 where an end is missing, or sits a
    rounding error on the wrong side of the estimate)."""
    return max(0.0, score - (lo if lo is not None else score)), max(0.0, (hi if hi is not None else score) - score)


def scores_chart(rungs: Sequence[SummaryRow], metric: str) -> str:
    """Score with its stored 95% interval per rung."""
    longest = max((len(r.title or r.name) for r in rungs), default=4)
    fig = _figure(6.4, 0.8 + 0.45 * max(1, len(rungs)), left=0.2 + 0.075 * longest)
    ax = fig.add_subplot()
    ys = list(range(len(rungs)))[::-1]
    for y, r, color in zip(ys, rungs, COLORS * 3, strict=False):
        if r.score is None:
            continue
        lo, hi = _error_bar(r.score, r.ci_low, r.ci_high)
        ax.errorbar([r.score], [y], xerr=[[lo], [hi]], fmt="o", color=color, capsize=4, lw=2)
        ax.annotate(f"{r.score:.3f}", (r.score, y), textcoords="offset points", xytext=(0, 7), ha="center")
    ax.set_yticks(ys, [r.title or r.name for r in rungs])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(rungs) - 0.3)
    ax.set_xlabel(f"{metric} on the test items (95% interval)")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig, "score per rung with 95% intervals")


def cost_chart(
    lines: Sequence[tuple[str, float, float]], break_even: float | None, expected: float | None, months: float
) -> str:
    """Monthly cost vs monthly requests: (label, $ per request, fixed $) per rung, log-log."""
    import numpy as np

    fig = _figure(6.4, 3.2, left=0.95)
    ax = fig.add_subplot()
    marks = [v for v in (break_even, expected) if v]
    lo = min([1e3, *(m / 10 for m in marks)])
    hi = max([1e8, *(m * 10 for m in marks)])
    x = np.logspace(np.log10(lo), np.log10(hi), 60)
    for (label, per_request, fixed), color in zip(lines, COLORS * 3, strict=False):
        ax.plot(x, fixed / months + per_request * x, label=label, color=color, lw=2)
    if break_even:
        ax.axvline(break_even, color="#333", ls="--", lw=1)
        ax.annotate("break-even", (break_even, 0.02), xycoords=("data", "axes fraction"), rotation=90, ha="right")
    if expected:
        ax.axvline(expected, color="#c44e52", ls=":", lw=1.5)
        ax.annotate("your volume", (expected, 0.02), xycoords=("data", "axes fraction"), rotation=90, ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter, NullLocator

    from tuneworth.decide.breakeven import fmt_volume

    # Minor log ticks add hundreds of (unlabelled) text objects to lay out, and the default
    # log labels are mathtext (parsed per label, most of the render time): plain text instead.
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_volume(v).replace(".0", "")))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${fmt_volume(v).replace('.0', '')}" if v >= 1 else f"${v:g}"))
    ax.set_xlabel("requests per month")
    ax.set_ylabel(f"$ per month (fixed costs over {months:g} months)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    return _svg(fig, "monthly cost against monthly volume per rung")


def curve_chart(points: Sequence[tuple[float, float]], metric: str) -> str:
    """Learning curve: test score against the share (or size) of the training data."""
    fig = _figure(6.4, 2.6, left=0.6)
    ax = fig.add_subplot()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.plot(xs, ys, "o-", color=COLORS[0], lw=2)
    ax.set_xlabel("training data used" if max(xs) <= 1 else "training examples")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    return _svg(fig, "learning curve")


def trade_chart(points: Sequence[TradePoint], metric: str) -> str:
    """The trade per rung, each on its own model: score against p50 latency (left) and against
    $ per 1k requests (right), with 95% intervals. Rungs without a price are left off the right panel."""
    scored = [p for p in points if p.score is not None]
    fig = _figure(6.4, 3.0, left=0.6, bottom=0.85)
    fig.subplots_adjust(wspace=0.32)
    lat_ax, cost_ax = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, sharey=None)
    priced = [p for p in scored if p.usd_per_1k is not None]
    seen: dict[tuple[int, float, float], int] = {}  # rungs drawn at the same spot get stacked labels
    for k, p in enumerate(scored):
        color = COLORS[k % len(COLORS)]
        score = p.score or 0.0
        lo, hi = _error_bar(score, p.ci_low, p.ci_high)
        label = f"{p.rung}: {p.model or '?'}"
        xs = [(lat_ax, (p.latency_p50_ms or 0.0) / 1000)]
        if p.usd_per_1k is not None:
            xs.append((cost_ax, p.usd_per_1k))
        for ax, x in xs:
            ax.errorbar([x], [score], yerr=[[lo], [hi]], fmt="o", color=color, capsize=4, lw=2,
                        label=label if ax is lat_ax else None)
            spot = (id(ax), round(x, 9), round(score, 9))
            seen[spot] = seen.get(spot, -1) + 1
            ax.annotate(p.rung, (x, score), textcoords="offset points", xytext=(6, 4 - 10 * seen[spot]), fontsize=8)
    lat_ax.set_xlabel("latency p50 (s per request)")
    lat_ax.set_ylabel(f"{metric} (95% interval)")
    cost_ax.set_xlabel("$ per 1k requests")
    costs = [p.usd_per_1k for p in priced if p.usd_per_1k is not None]
    if costs and min(costs) > 0 and max(costs) / min(costs) > 20:
        from matplotlib.ticker import FuncFormatter, NullLocator

        cost_ax.set_xscale("log")
        cost_ax.xaxis.set_minor_locator(NullLocator())
        cost_ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:g}"))
    if not priced:
        cost_ax.text(0.5, 0.5, "no prices", ha="center", va="center", transform=cost_ax.transAxes)
    for ax in (lat_ax, cost_ax):
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.margins(x=0.25)
    lat_ax.set_xlim(left=0)
    fig.legend(loc="lower center", ncol=min(4, max(1, len(scored))), frameon=False, fontsize=8)
    return _svg(fig, "score against latency and cost per rung")
