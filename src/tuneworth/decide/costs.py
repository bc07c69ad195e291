"""Costs: per-rung cost per 1k requests from *measured* tokens (or measured time on local hardware),
and the fixed costs of fine-tuning (trained tokens x price, or training time x $/hour, plus human hours).

Few-shot and RAG prompts are long, fine-tuned prompts are short but priced higher: both come out of
the record's measured prompt/completion tokens, so the comparison is the run's own, not a guess.
A model with no price says so (``usd_per_1k`` None and a note) instead of counting as free.
Which rung is fine-tuned is the rung's ``trains`` metadata on its row, never its name.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuneworth.config.task import EconomicsConfig
from tuneworth.decide.prices import PriceTable
from tuneworth.record.derived import FinetuneCosts, RungCost, Span
from tuneworth.record.schema import ItemResult, RunHeader, SummaryRow


def rung_model(row: SummaryRow, header: RunHeader) -> str:
    """The model that answered for a rung: the row's own (a tuned model), else the run's."""
    if row.model:
        return row.model
    training = header.training
    if row.trains and training is not None and training.model_id:
        return training.model_id
    return header.model.spec or header.model.id


def is_fine_tuned(trains: bool, model: str) -> bool:
    return trains or "ft:" in model


def seconds_per_request(items: Sequence[ItemResult], rung: str) -> float | None:
    """Measured compute seconds per test request: items of one batch share their batch's wall time
    (``latency_ms``), so the sum of distinct batch times over the item count is the time per item."""
    batches: set[tuple[str, float]] = set()
    n = 0
    for it in items:
        if it.rung != rung or it.phase != "test":
            continue
        batches.add((str(it.config), it.latency_ms))
        n += 1
    if not n:
        return None
    return sum(ms for _, ms in batches) / 1000 / n


def rung_cost(
    name: str,
    model: str,
    *,
    trains: bool,
    prompt_tokens: float | None,
    completion_tokens: float | None,
    table: PriceTable,
    economics: EconomicsConfig,
    seconds: float | None = None,
) -> RungCost:
    """Cost per 1k requests of one rung (``seconds``: its measured compute time per request, for
    models priced by the hour)."""
    tuned = is_fine_tuned(trains, model)
    out = RungCost(rung=name, model=model, fine_tuned=tuned, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    ref = economics.price_reference
    price = table.price(ref) if ref else table.price(model)
    if ref and price is None:
        out.notes.append(f"price_reference {ref!r} is not in the prices table (as of {table.as_of})")
    if price is not None and prompt_tokens is not None and completion_tokens is not None:
        if tuned:
            ip, op, estimated = price.fine_tuned(table.fine_tuned_markup)
            if estimated:
                out.notes.append(f"no fine-tuned price for {price.model}: {table.fine_tuned_markup}x its base price")
        else:
            ip, op = price.input, price.output
        out.usd_per_1k = 1000 * (prompt_tokens * ip + completion_tokens * op) / 1e6
        out.basis = "tokens"
        out.priced_as = price.model + (" (fine-tuned)" if tuned else "")
        out.usd_per_1m_tokens = {"input": ip, "output": op}
        if ref and ref != model:
            out.notes.append(f"tokens counted for {model}, priced as {ref}")
        return out
    if model.startswith("local/") and seconds is not None:
        device = economics.local_device
        hourly = table.hourly(device)
        out.usd_per_1k = 1000 * seconds * hourly / 3600
        out.basis = "compute"
        out.priced_as = f"{device} at ${hourly:.2f}/h"
        out.seconds_per_request = seconds
        out.notes.append(f"measured {seconds:.3f} s of {device} per request (batched)")
        return out
    out.notes.append(
        f"no price for {model} in the table (as of {table.as_of}): set economics.price_reference "
        "or [economics.prices] in the task file"
    )
    return out


def row_cost(
    row: SummaryRow, header: RunHeader, items: Sequence[ItemResult], table: PriceTable, economics: EconomicsConfig
) -> RungCost:
    """A run's rung priced from its row's measured tokens (and measured time)."""
    return rung_cost(
        row.name,
        rung_model(row, header),
        trains=row.trains,
        prompt_tokens=row.prompt_tokens_mean,
        completion_tokens=row.completion_tokens_mean,
        table=table,
        economics=economics,
        seconds=seconds_per_request(items, row.name),
    )


def human_hours(economics: EconomicsConfig) -> Span:
    prep, it = economics.data_prep_hours, economics.iteration_hours
    low, high = float(prep[0]) + float(it[0]), float(prep[1]) + float(it[1])
    return Span(low=low, mid=(low + high) / 2, high=high)


def estimate_trained_tokens(n_train: int | None, base: SummaryRow | None, epochs: float = 3.0) -> float | None:
    """Tokens a fine-tune would train on: train examples x (prompt + answer tokens of the base rung) x epochs."""
    if not n_train or base is None or base.prompt_tokens_mean is None:
        return None
    return float(n_train) * (base.prompt_tokens_mean + (base.completion_tokens_mean or 0.0)) * epochs


def finetune_fixed(
    base_model: str,
    *,
    trained_tokens: float | None,
    training_seconds: float | None,
    estimated_tokens: float | None,
    table: PriceTable,
    economics: EconomicsConfig,
) -> FinetuneCosts:
    """One-off costs of fine-tuning: training compute (measured when it ran) + human hours."""
    notes: list[str] = []
    measured = bool(trained_tokens and trained_tokens > 0)
    tokens = trained_tokens if measured else estimated_tokens
    if not measured:
        notes.append("fine-tuning not run: trained tokens estimated as train size x base-rung tokens x 3 epochs")
    ref = economics.price_reference
    price = table.price(ref) if ref else table.price(base_model)
    compute_usd: float | None = None
    basis = "none"
    if price is not None and price.training is not None and tokens is not None:
        compute_usd = tokens / 1e6 * price.training
        basis = f"{tokens:,.0f} trained tokens x ${price.training}/1M ({price.model})"
    elif base_model.startswith("local/"):
        device = economics.local_device
        secs = training_seconds
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
    rate = economics.human_hourly_rate
    compute = compute_usd or 0.0
    return FinetuneCosts(
        trained_tokens=tokens,
        measured=measured,
        compute_usd=compute_usd,
        compute_basis=basis,
        human_hours=hours,
        human_hourly_rate=rate,
        total_usd=Span(low=compute + hours.low * rate, mid=compute + hours.mid * rate, high=compute + hours.high * rate),
        notes=notes,
    )
