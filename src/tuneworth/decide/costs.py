"""Costs: per-rung cost per 1k requests from *measured* tokens (or measured time on local hardware),
and the fixed costs of fine-tuning (trained tokens x price, or training time x $/hour, plus human hours).

Few-shot and RAG prompts are long, fine-tuned prompts are short but priced higher: both come out of
the record's measured prompt/completion tokens, so the comparison is the run's own, not a guess.
A model with no price says so (``usd_per_1k`` None and a note) instead of counting as free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.decide.prices import PriceTable


def section(header: dict[str, Any], key: str) -> dict[str, Any]:
    """A record section written by another part of tuneworth, or {} when absent or not an object."""
    value = header.get(key)
    return value if isinstance(value, dict) else {}


def number(value: Any) -> float | None:
    """A finite number from a foreign section, else None (bools and strings are not numbers)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def rung_model(row: dict[str, Any], header: dict[str, Any]) -> str:
    """The model that answered for a rung: the row's own (L4's tuned model), else the run's."""
    training = section(header, "training")
    if row.get("model"):
        return str(row["model"])
    if row["name"] == "L4" and isinstance(training.get("model_id"), str) and training["model_id"]:
        return str(training["model_id"])
    model = header.get("model") or {}
    return str(model.get("spec") or model.get("id") or "")


def is_fine_tuned(name: str, model: str) -> bool:
    return name == "L4" or "ft:" in model


def seconds_per_request(items: Sequence[dict[str, Any]], rung: str) -> float | None:
    """Measured compute seconds per test request: items of one batch share their batch's wall time
    (``latency_ms``), so the sum of distinct batch times over the item count is the time per item."""
    batches: dict[tuple[Any, float], int] = {}
    n = 0
    for it in items:
        if it.get("rung") != rung or it.get("phase") != "test" or it.get("latency_ms") is None:
            continue
        batches[(str(it.get("config")), float(it["latency_ms"]))] = 1
        n += 1
    if not n:
        return None
    return sum(ms for _, ms in batches) / 1000 / n


def rung_cost(
    row: dict[str, Any],
    header: dict[str, Any],
    items: Sequence[dict[str, Any]],
    table: PriceTable,
    economics: dict[str, Any],
    *,
    timing_from: str | None = None,
) -> dict[str, Any]:
    """Cost per 1k requests of one rung (a dict for the record's ``costs.rungs``).

    ``timing_from`` names another rung whose measured time to use (an estimate for a rung not run).
    """
    name = row["name"]
    model = rung_model(row, header)
    tuned = is_fine_tuned(name, model)
    pin, pout = row.get("prompt_tokens_mean"), row.get("completion_tokens_mean")
    out: dict[str, Any] = {
        "rung": name,
        "model": model,
        "fine_tuned": tuned,
        "prompt_tokens": pin,
        "completion_tokens": pout,
        "usd_per_1k": None,
        "basis": "none",
        "priced_as": None,
        "notes": [],
    }
    ref = economics.get("price_reference")
    price = table.price(ref) if ref else table.price(model)
    if ref and price is None:
        out["notes"].append(f"price_reference {ref!r} is not in the prices table (as of {table.as_of})")
    if price is not None and pin is not None and pout is not None:
        if tuned:
            ip, op, estimated = price.fine_tuned(table.fine_tuned_markup)
            if estimated:
                out["notes"].append(
                    f"no fine-tuned price for {price.model}: {table.fine_tuned_markup}x its base price"
                )
        else:
            ip, op = price.input, price.output
        out.update(
            usd_per_1k=1000 * (pin * ip + pout * op) / 1e6,
            basis="tokens",
            priced_as=price.model + (" (fine-tuned)" if tuned else ""),
            usd_per_1m_tokens={"input": ip, "output": op},
        )
        if ref and ref != model:
            out["notes"].append(f"tokens counted for {model}, priced as {ref}")
        return out
    if model.startswith("local/"):
        device = str(economics.get("local_device") or "cpu-2core")
        secs = seconds_per_request(items, timing_from or name)
        if secs is not None:
            hourly = table.hourly(device)
            out.update(
                usd_per_1k=1000 * secs * hourly / 3600,
                basis="compute",
                priced_as=f"{device} at ${hourly:.2f}/h",
                seconds_per_request=secs,
            )
            out["notes"].append(f"measured {secs:.3f} s of {device} per request (batched)")
            return out
    out["notes"].append(
        f"no price for {model} in the table (as of {table.as_of}): set economics.price_reference "
        "or [economics.prices] in the task file"
    )
    return out


def human_hours(economics: dict[str, Any]) -> dict[str, float]:
    prep = economics.get("data_prep_hours") or (10.0, 40.0)
    it = economics.get("iteration_hours") or (5.0, 20.0)
    low, high = float(prep[0]) + float(it[0]), float(prep[1]) + float(it[1])
    return {"low": low, "mid": (low + high) / 2, "high": high}


def estimate_trained_tokens(
    header: dict[str, Any], rows: Sequence[dict[str, Any]], epochs: float = 3.0
) -> float | None:
    """Tokens a fine-tune would train on: train examples x (prompt + answer tokens of L1) x epochs."""
    n_train = ((header.get("data") or {}).get("sizes") or {}).get("train")
    base = next((r for r in rows if r["name"] == "L1"), rows[0] if rows else None)
    if not n_train or base is None or base.get("prompt_tokens_mean") is None:
        return None
    return float(n_train) * (base["prompt_tokens_mean"] + base["completion_tokens_mean"]) * epochs


def finetune_fixed(
    header: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    table: PriceTable,
    economics: dict[str, Any],
) -> dict[str, Any]:
    """One-off costs of fine-tuning: training compute (measured when L4 ran) + human hours."""
    training = section(header, "training")
    base_model = str((header.get("model") or {}).get("spec") or "")
    notes: list[str] = []
    trained = number(training.get("trained_tokens"))
    measured = bool(trained and trained > 0)
    tokens = trained if measured else estimate_trained_tokens(header, rows)
    if not measured:
        notes.append("L4 not run: trained tokens estimated as train size x L1 tokens x 3 epochs")
    ref = economics.get("price_reference")
    price = table.price(ref) if ref else table.price(base_model)
    compute_usd: float | None = None
    basis = "none"
    if price is not None and price.training is not None and tokens is not None:
        compute_usd = tokens / 1e6 * price.training
        basis = f"{tokens:,.0f} trained tokens x ${price.training}/1M ({price.model})"
    elif base_model.startswith("local/"):
        device = str(economics.get("local_device") or "cpu-2core")
        secs = number(training.get("seconds"))
        if secs is None and tokens is not None:
            rate = table.throughput.get("local_training_tokens_per_second", 150.0)
            secs = tokens / rate
            notes.append(f"training time estimated at {rate:.0f} trained tokens/s")
        if secs is not None:
            compute_usd = float(secs) / 3600 * table.hourly(device)
            basis = f"{float(secs):,.0f} s of {device} at ${table.hourly(device):.2f}/h"
    if compute_usd is None:
        notes.append(f"no training price for {ref or base_model}: training compute counted as $0")
    hours = human_hours(economics)
    rate = float(economics.get("human_hourly_rate", 100.0))
    compute = compute_usd or 0.0
    return {
        "trained_tokens": tokens,
        "measured": measured,
        "compute_usd": compute_usd,
        "compute_basis": basis,
        "human_hours": hours,
        "human_hourly_rate": rate,
        "total_usd": {k: compute + h * rate for k, h in hours.items()},
        "notes": notes,
    }
