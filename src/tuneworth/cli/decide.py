"""``tuneworth decide``, ``tuneworth cost`` and ``tuneworth estimate``. Bodies import lazily."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from tuneworth.record.derived import Decision


def _range(value: str | None, name: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, _, hi = value.partition(",")
        out = (float(lo), float(hi or lo))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected LOW,HIGH hours, e.g. 10,40", param_hint=name) from None
    if not 0 <= out[0] <= out[1]:
        raise click.BadParameter(f"{value!r}: need 0 <= LOW <= HIGH", param_hint=name)
    return out


def _print_decision(d: Decision) -> None:
    click.echo(click.style(d.verdict, bold=True))
    click.echo("")
    if d.scores:
        click.echo("Scores per rung (95% intervals):")
        for line in d.scores:
            click.echo(f"  {line}")
        click.echo("")
    for q in d.questions:
        click.echo(f"{q.question}\n  {q.answer}")
        for e in q.evidence:
            click.echo(f"    · {e}")
    if d.what_would_change:
        click.echo("\nWhat would change the answer:")
        for c in d.what_would_change:
            click.echo(f"  - {c}")
    if d.sections_missing:
        click.echo(f"\nNot in this run: {', '.join(d.sections_missing)}.")


@click.command("decide")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--requests-per-month", type=click.IntRange(min=0), help="Expected volume (overrides the task's economics).")
@click.option("--payback-months", type=click.FloatRange(min=0, min_open=True), help="Break-even horizon.")
@click.option("--cost-per-error", type=click.FloatRange(min=0), help="Dollars a wrong answer costs.")
@click.option("--hourly-rate", type=click.FloatRange(min=0), help="Engineer $ per hour.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def decide_cmd(
    run_dir: Path | None,
    requests_per_month: int | None,
    payback_months: float | None,
    cost_per_error: float | None,
    hourly_rate: float | None,
    as_json: bool,
) -> None:
    """Decide whether to fine-tune: from a run (RUN_DIR), or as a questionnaire without one."""
    if run_dir is None:
        from tuneworth.decide.questionnaire import run_questionnaire

        def ask(question: str, kind: Any, default: Any) -> Any:
            t = click.Choice(kind) if isinstance(kind, list) else kind
            return click.prompt(question, type=t, default=default, err=as_json)

        decision, econ = run_questionnaire(ask)
        if as_json:
            click.echo(json.dumps({"decision": decision.model_dump(mode="json"), "costs": econ}, indent=2))
        else:
            click.echo("")
            _print_decision(decision)
        return
    from tuneworth.report.render import load_analysed

    overrides = {
        "requests_per_month": requests_per_month,
        "payback_months": payback_months,
        "cost_per_error": cost_per_error,
        "human_hourly_rate": hourly_rate,
    }
    _run, summary = load_analysed(run_dir, overrides)
    if as_json:
        click.echo(summary.model_dump_json(include={"decision", "statistics", "costs"}, indent=2))
        return
    assert summary.decision is not None  # set by load_analysed
    _print_decision(summary.decision)


@click.command("cost")
@click.option("--task", "task_path", type=click.Path(path_type=Path), help="Read economics (and token estimates) from a task.")
@click.option("--model", help="Model to price, provider/name (default: the task's, else openai/gpt-4o-mini).")
@click.option("--prompt-tokens", type=click.FloatRange(min=0), help="Prompt tokens per request on the cheaper rung (few-shot/RAG).")
@click.option("--completion-tokens", type=click.FloatRange(min=0), help="Answer tokens per request.")
@click.option("--ft-prompt-tokens", type=click.FloatRange(min=0), help="Prompt tokens per request once fine-tuned.")
@click.option("--trained-tokens", type=click.FloatRange(min=0), help="Tokens the fine-tune trains on (dataset x epochs).")
@click.option("--train-examples", type=click.IntRange(min=1), help="Instead of --trained-tokens: examples x tokens x epochs.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True)
@click.option("--requests-per-month", type=click.IntRange(min=0))
@click.option("--hourly-rate", type=click.FloatRange(min=0), help="Engineer $ per hour (default 100).")
@click.option("--data-prep-hours", help="LOW,HIGH engineer hours for data preparation (default 10,40).")
@click.option("--iteration-hours", help="LOW,HIGH engineer hours of iteration (default 5,20).")
@click.option("--payback-months", type=click.FloatRange(min=0, min_open=True))
@click.option("--score-gain", type=click.FloatRange(-1, 1), help="Fine-tuning's accuracy gain (0.05 = 5 points).")
@click.option("--cost-per-error", type=click.FloatRange(min=0), help="Dollars a wrong answer costs.")
@click.option("--input-price", type=click.FloatRange(min=0), help="$ per 1M prompt tokens (instead of the table).")
@click.option("--output-price", type=click.FloatRange(min=0), help="$ per 1M answer tokens.")
@click.option("--training-price", type=click.FloatRange(min=0), help="$ per 1M trained tokens.")
@click.option("--list", "list_prices", is_flag=True, help="List the prices table and exit.")
@click.option("--json", "as_json", is_flag=True)
def cost_cmd(**o: Any) -> None:
    """Break-even calculator: when does fine-tuning pay back? No run needed."""
    from tuneworth.decide.breakeven import fmt_usd, fmt_volume
    from tuneworth.decide.calculator import scenario
    from tuneworth.decide.prices import load_prices
    from tuneworth.errors import ConfigError

    if o["list_prices"]:
        t = load_prices()
        click.echo(f"prices as of {t.as_of} ($ per 1M tokens: input / output / training / fine-tuned input / output)")
        for name, p in t.models.items():
            click.echo(f"  {name:45} {p.input:>6} / {p.output:>6} / {p.training or '-':>6} / {p.ft_input or '-':>6} / {p.ft_output or '-':>6}")
        click.echo("hardware ($ per hour): " + ", ".join(f"{k} {v}" for k, v in t.hardware.items()))
        return
    economics: dict[str, Any] = {}
    model = o["model"]
    est: dict[str, Any] | None = None
    if o["task_path"]:
        from tuneworth.config.task import load_task
        from tuneworth.decide.estimate import estimate

        task = load_task(o["task_path"])
        economics = task.economics.model_dump()
        model = model or task.model.name
        from tuneworth.rungs import RUNGS, load_rung

        est = estimate(task, rungs=[n for n in RUNGS if load_rung(n).cost_class == "prompt"])
    model = model or "openai/gpt-4o-mini"
    rows = sorted((est or {"rungs": []})["rungs"], key=lambda r: r["order"])
    # The cheaper rung is the last prompt-only one (few-shot); a fine-tuned model needs only the
    # plain instruction: the first rung's base prompt.
    cheaper: dict[str, Any] = rows[-1] if rows else {}
    first: dict[str, Any] = rows[0] if rows else {}
    prompt = o["prompt_tokens"] if o["prompt_tokens"] is not None else cheaper.get("prompt_tokens")
    ft_prompt = o["ft_prompt_tokens"] if o["ft_prompt_tokens"] is not None else first.get("base_prompt_tokens")
    completion = o["completion_tokens"] if o["completion_tokens"] is not None else first.get("completion_tokens")
    missing = [f for f, v in (("--prompt-tokens", prompt), ("--ft-prompt-tokens", ft_prompt), ("--completion-tokens", completion)) if v is None]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}", hint="give them, or --task TASK to estimate them from its data")
    assert prompt is not None and ft_prompt is not None and completion is not None
    for key, flag in (("requests_per_month", "requests_per_month"), ("human_hourly_rate", "hourly_rate"), ("payback_months", "payback_months"), ("cost_per_error", "cost_per_error")):
        if o[flag] is not None:
            economics[key] = o[flag]
    for key in ("data_prep_hours", "iteration_hours"):
        r = _range(o[key], "--" + key.replace("_", "-"))
        if r is not None:
            economics[key] = r
    if o["input_price"] is not None or o["output_price"] is not None:
        if o["input_price"] is None or o["output_price"] is None:
            raise ConfigError("give both --input-price and --output-price")
        economics.setdefault("prices", {})[model] = {"input": o["input_price"], "output": o["output_price"], "training": o["training_price"]}
        economics["price_reference"] = None
    train_examples = o["train_examples"] or (est["sizes"]["train"] if est else None)
    s = scenario(
        model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        ft_prompt_tokens=ft_prompt,
        trained_tokens=o["trained_tokens"],
        train_examples=train_examples,
        epochs=o["epochs"],
        score_gain=o["score_gain"],
        economics=economics,
    )
    if o["as_json"]:
        click.echo(json.dumps(s, indent=2))
        return
    b, t, f, be = s["base"], s["fine_tuned"], s["finetune"], s["break_even"]
    click.echo(f"priced as {s['priced_as']} (prices as of {s['prices_as_of']})")
    click.echo(f"  cheaper rung: {b['prompt_tokens']:.0f} + {b['completion_tokens']:.0f} tokens = ${b['usd_per_1k']:.4f} per 1k requests")
    click.echo(f"  fine-tuned:   {t['prompt_tokens']:.0f} + {t['completion_tokens']:.0f} tokens = ${t['usd_per_1k']:.4f} per 1k requests")
    for note in t["notes"]:
        click.echo(f"                ({note})")
    click.echo(
        f"  fixed: compute {fmt_usd(f['compute_usd'] or 0)} ({f['compute_basis']}) + "
        f"{f['human_hours']['low']:g}-{f['human_hours']['high']:g} h x ${f['human_hourly_rate']:g} = "
        f"{fmt_usd(f['total_usd']['low'])}-{fmt_usd(f['total_usd']['high'])}"
    )
    if be["never"]:
        click.echo(f"break-even: never ({be['reason']})")
    else:
        click.echo(f"break-even: {fmt_volume(be['requests_per_month'])} requests/month ({be['reason']})")
    if s["requests_per_month"] is not None:
        verdict = {True: "pays back", False: "does not pay back", None: "never pays back"}[s["pays_back"]]
        click.echo(f"at {fmt_volume(s['requests_per_month'])} requests/month fine-tuning {verdict}")


@click.command("estimate")
@click.argument("task", type=click.Path(path_type=Path))
@click.option("--model", help="Model as provider/name (overrides the task file).")
@click.option("--rungs", help="Comma-separated rungs (default: all enabled).")
@click.option("--json", "as_json", is_flag=True)
def estimate_cmd(task: Path, model: str | None, rungs: str | None, as_json: bool) -> None:
    """Requests, tokens, dollars and time of a climb, before spending anything."""
    from tuneworth.config.task import load_task
    from tuneworth.decide.estimate import estimate
    from tuneworth.errors import ConfigError
    from tuneworth.rungs import RUNGS

    t = load_task(task, model=model)
    wanted = [r.strip() for r in rungs.split(",") if r.strip()] if rungs else None
    for r in wanted or []:
        if r not in RUNGS:
            raise ConfigError(f"unknown rung {r!r}", hint=f"choose from {', '.join(RUNGS)}")
    e = estimate(t, wanted)
    if as_json:
        click.echo(json.dumps(e, indent=2))
        return
    sizes = e["sizes"]
    click.echo(f"{e['task']} with {e['model']}: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']}")
    click.echo(f"{'rung':6} {'candidates':>10} {'requests':>9} {'tokens in':>10} {'tokens out':>10} {'dollars':>9} {'time':>8}")
    for r in e["rungs"]:
        usd = "n/a" if r["usd"] is None else f"${r['usd']:.4f}"
        click.echo(
            f"{r['rung']:6} {r['candidates']:>10} {r['requests']:>9} {r['tokens_in']:>10,.0f} {r['tokens_out']:>10,.0f} {usd:>9} {_dur(r['seconds']):>8}"
        )
        if r["note"]:
            click.echo(f"       ({r['note']})")
    if e.get("judge"):
        j = e["judge"]
        usd = "n/a" if j["usd"] is None else f"${j['usd']:.4f}"
        click.echo(
            f"{'judge':6} {j['mode']:>10} {j['calls']:>9} {j['tokens_in']:>10,.0f} {j['tokens_out']:>10,.0f} {usd:>9} {_dur(j['seconds']):>8}"
        )
        click.echo(f"       ({j['model']}; {j['note']})")
    if e["training"]:
        tr = e["training"]
        usd = f"${tr['usd']:.2f}" if tr.get("usd") is not None else "n/a"
        click.echo(f"L4 training: {tr['trained_tokens']:,.0f} trained tokens ({tr['epochs']} epochs), {usd}" + (f", {_dur(tr['seconds'])}" if tr.get("seconds") else ""))
    total = "n/a" if e["usd"] is None else f"${e['usd']:.4f}"
    click.echo(
        f"total: {e['requests']} requests, {e['tokens_in']:,.0f} tokens in, {e['tokens_out']:,.0f} out, {total}, about {_dur(e['seconds'])}"
    )
    click.echo(f"(tokens {e['token_counting']}; prices as of {e['prices_as_of']}; time from the prices table's measured throughput)")


def _dur(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
