"""Command definitions. Each body imports what it needs when it runs, never at module import."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _print_estimate(console: Any, task: Any, rungs: list[str] | None, limit: int | None) -> None:
    """The pre-run estimate (``tuneworth estimate``): requests, tokens and dollars before anything is paid."""
    from tuneworth.decide.estimate import estimate

    try:
        e = estimate(task, rungs)
    except Exception as err:  # advisory only: the climb itself reports any real problem with the task
        console.print(f"  estimate unavailable: {type(err).__name__}: {err}")
        return
    usd = "n/a" if e["usd"] is None else f"${e['usd']:.4f}"
    console.print(
        f"  estimate: {e['requests']} requests, ~{e['tokens_in']:,.0f} tokens in, ~{e['tokens_out']:,.0f} out, "
        f"{usd}, about {round(e['seconds'])} s"
        + (f" (for the full split; --limit {limit} asks for less)" if limit else "")
        + "; answers already in the cache or the run record cost nothing"
    )


@click.command("climb")
@click.argument("task", type=click.Path(path_type=Path), required=False)
@click.option("--model", help="Model as provider/name (overrides the task file and $TUNEWORTH_MODEL).")
@click.option(
    "--seed", type=int, help="Seed for splits and random demonstrations (overrides $TUNEWORTH_SEED)."
)
@click.option("--rungs", help="Comma-separated rungs to run, e.g. L1 or L1,L2 (default: all enabled).")
@click.option("--limit", type=int, help="Use only the first N validation and test items (quick checks).")
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where run directories are created.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Exact run directory to create (must not exist)."
)
@click.option(
    "--no-cache", is_flag=True, help="Do not read or write the completion and embedding caches (or set TUNEWORTH_CACHE=0)."
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout instead of the table.")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path),
    help="Continue this interrupted run directory (TASK and options default to the run's own).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start a new run directory even if an unfinished run of the same command exists.",
)
def climb_cmd(
    task: Path | None,
    model: str | None,
    seed: int | None,
    rungs: str | None,
    limit: int | None,
    runs_dir: Path,
    out: Path | None,
    no_cache: bool,
    as_json: bool,
    resume_dir: Path | None,
    fresh: bool,
) -> None:
    """Climb the ladder on TASK (a task directory or .toml file) and write a run record.

    Re-running the same command continues its newest unfinished run (finished items are kept and
    not asked for again); --fresh starts over, --resume RUN_DIR continues a given run.
    """
    from rich.console import Console

    from tuneworth.config.task import find_task_file, load_task
    from tuneworth.errors import ConfigError
    from tuneworth.providers.registry import resolve_model
    from tuneworth.record.store import sections_dict
    from tuneworth.report.terminal import RichProgress, results_table
    from tuneworth.run.climb import climb
    from tuneworth.rungs import RUNGS

    if resume_dir is not None:
        from tuneworth.record.store import read_header

        if out is not None or fresh:
            raise ConfigError("--resume cannot be combined with --out or --fresh")
        old = read_header(resume_dir)
        task_file = old.resume.task_file if old.resume else None
        task = task or (Path(task_file) if task_file else None)
        if task is None:
            raise ConfigError(f"{resume_dir} does not record its task file", hint="pass TASK as well")
        model = model or old.model.spec
        seed = seed if seed is not None else old.seed
        rungs = rungs or (",".join(old.resume.rungs) if old.resume else None) or None
        limit = limit if limit is not None else (old.resume.limit if old.resume else None)
    if task is None:
        raise click.UsageError("missing argument TASK (a task directory or .toml file)")
    t = load_task(task, model=model, seed=seed)
    wanted = [r.strip() for r in rungs.split(",") if r.strip()] if rungs else None
    for r in wanted or []:
        if r not in RUNGS:
            raise ConfigError(f"unknown rung {r!r}", hint=f"choose from {', '.join(RUNGS)}")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    if out is not None and out.exists():
        raise ConfigError(f"--out {out} already exists", hint="choose a new directory or omit --out")
    console = Console(stderr=True)
    console.print(f"[bold]tuneworth[/] climbing [cyan]{t.name}[/] with [cyan]{t.model.name}[/]")
    _print_estimate(console, t, wanted, limit)
    if no_cache:  # every cache for this command: completions and embeddings (retrieval, audit, metrics)
        from tuneworth.providers.cache import caches_off

        click.get_current_context().with_resource(caches_off())
    m = resolve_model(t.model.name, t.model, cache=False if no_cache else None)
    result = climb(
        t,
        m,
        runs_dir=runs_dir,
        run_dir=out,
        rungs=wanted,
        limit=limit,
        progress=RichProgress(console),
        log=lambda s: console.print(f"  {s}"),
        resume=resume_dir if resume_dir is not None else not (fresh or out is not None),
        task_file=find_task_file(task),
    )
    if as_json:
        click.echo(json.dumps(sections_dict(result.summary), indent=2))
    else:
        Console(width=None if sys.stdout.isatty() else 120).print(results_table(result.summary))
    if m.cache_hits:
        console.print(f"{m.cache_hits} answers came from the completion cache (--no-cache to regenerate)")
    from tuneworth.errors import RunFailed
    from tuneworth.report.render import write_report

    try:
        report = write_report(result.run_dir)
    except Exception as e:  # the run is complete on disk; a report failure must not hide it
        console.print(f"run record: {result.run_dir}")
        raise RunFailed(
            f"the run finished but its report could not be written ({type(e).__name__}: {e})",
            hint=f"tuneworth report {result.run_dir} (TUNEWORTH_DEBUG=1 shows the traceback)",
        ) from e
    if report.summary.decision is not None:
        console.print(f"[bold]verdict:[/] {report.summary.decision.verdict}")
    console.print(f"report: {report.html} (and report.md)")
    console.print(f"run record: {result.run_dir}")


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of the table.")
@click.option("--no-html", is_flag=True, help="Only print; do not write report.html and report.md.")
def report_cmd(run_dir: Path, as_json: bool, no_html: bool) -> None:
    """Re-render the results of a past run from its record (and write report.html + report.md)."""
    from rich.console import Console
    from rich.markdown import Markdown

    from tuneworth.errors import ConfigError
    from tuneworth.report.markdown import render_details
    from tuneworth.report.render import load_run
    from tuneworth.report.terminal import results_table

    run = load_run(run_dir)
    summary = run.summary
    if summary is None:
        raise ConfigError(
            f"{run_dir} has no summary.json (status: {run.header.status})",
            hint="the run did not finish; its items.jsonl holds what it completed",
        )
    if as_json:
        from tuneworth.record.store import sections_dict

        click.echo(json.dumps(sections_dict(summary), indent=2))
        return
    Console(width=None if sys.stdout.isatty() else 120).print(results_table(summary))
    Console().print(Markdown(render_details(run.header, summary)))
    if not no_html:
        from tuneworth.report.render import write_report

        report = write_report(run_dir)
        assert report.summary.decision is not None
        click.echo(f"verdict: {report.summary.decision.verdict}")
        click.echo(f"report: {report.html} (and {report.markdown.name})")


@click.command("validate")
@click.argument("task", type=click.Path(path_type=Path))
def validate_cmd(task: Path) -> None:
    """Check a task file and its data without running any model."""
    from tuneworth.config.task import load_task
    from tuneworth.data.load import load_split

    t = load_task(task)
    _split, info = load_split(t)
    if t.primary_metric == "judge" and t.judge.calibration:
        from tuneworth.judge.calibration import load_calibration

        load_calibration(t.resolve(t.judge.calibration), _split.test, mode=t.judge.mode)  # every line a test item
    from tuneworth.decoding.labels import check_label_tokenization

    check_label_tokenization(t)  # labels a local model's tokenizer cannot tell apart: an error here
    sizes = info.sizes
    click.echo(
        f"{t.name}: ok · output {t.output.kind} · metric {t.primary_metric} · "
        f"train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']}"
    )


TASK_TEMPLATE = """# tuneworth task file. Paths are relative to this file. Reference: README.md "Task file".
name = "{name}"
description = "Classify the sentiment of a product review."
seed = 13                      # seeds the split and random demonstrations

[data]
path = "data.jsonl"            # chat JSONL, prompt/completion JSONL, or CSV with input,output columns
validation_size = 0.2          # fraction (0-1) or count, used to choose prompts and k
test_size = 0.3                # fraction (0-1) or count, used for the final scores
# train = "train.jsonl"        # instead of path: separate files (validation/test optional)
# docs = "docs/"               # reference documents for the RAG rung
# production_sample = "queries.txt"  # real production queries, one per line

[prompt]
system = "Classify the sentiment of the customer's review."
# variants = {{ strict = "You label reviews. Reply with positive, negative or neutral." }}

[output]
kind = "label"                 # text | label | json
labels = ["positive", "negative", "neutral"]
# kind = "json" with: schema = "schema.json"

# metric = "accuracy"          # text: exact|normalized; label: accuracy; json: field_accuracy|object_match|exact

[model]
name = "local/smollm2-135m"    # or openai/gpt-4o-mini, openai/NAME with base_url, local/PATH
max_tokens = 16
batch_size = 16

[rungs.L1]
variants = ["base", "format", "rules", "cot"]

[rungs.L2]
k = [1, 3, 5]
selection = ["random", "stratified", "nearest"]

[economics]
# requests_per_month = 100000
human_hourly_rate = 100
"""

SAMPLE = [
    ("Absolutely love it, works perfectly.", "positive"),
    ("Broke after two days. Waste of money.", "negative"),
    ("It arrived on Tuesday.", "neutral"),
    ("Great value, would buy again!", "positive"),
    ("The strap snapped and support never replied.", "negative"),
    ("Does what it says. Nothing special.", "neutral"),
    ("Best purchase I made this year", "positive"),
    ("terrible, smells like plastic", "negative"),
    ("Comes in a blue box.", "neutral"),
    ("My kids adore this thing", "positive"),
    ("Stopped charging within a week", "negative"),
    ("The manual is in English and French.", "neutral"),
    ("Exceeded my expectations, five stars", "positive"),
    ("Returned it. Flimsy and overpriced.", "negative"),
    ("Weight is about 300 g.", "neutral"),
    ("So comfy I bought a second one", "positive"),
    ("Never arrived and no refund yet", "negative"),
    ("It is the 2024 model.", "neutral"),
    ("Fantastic sound for the price", "positive"),
    ("The screen cracked on first use", "negative"),
]


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
def init_cmd(directory: Path) -> None:
    """Scaffold a task in DIRECTORY: a commented task file and a small sample data file."""
    from tuneworth.errors import ConfigError

    task_file = directory / "tuneworth.toml"
    if task_file.exists():
        raise ConfigError(f"{task_file} already exists", hint="choose another directory")
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.jsonl"
    if not data.exists():
        with data.open("w", encoding="utf-8") as f:
            for text, label in SAMPLE:
                f.write(
                    json.dumps(
                        {
                            "messages": [
                                {"role": "user", "content": text},
                                {"role": "assistant", "content": label},
                            ]
                        }
                    )
                    + "\n"
                )
    task_file.write_text(TASK_TEMPLATE.format(name=directory.resolve().name or "task"), encoding="utf-8")
    click.echo(f"created {task_file} and {data}", file=sys.stdout)
    click.echo(f"next: tuneworth validate {directory} && tuneworth climb {directory}")


@click.group("cache")
def cache_cmd() -> None:
    """Inspect or clear the completion cache ($TUNEWORTH_HOME/cache.sqlite)."""


@cache_cmd.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_stats(as_json: bool) -> None:
    """How many answers are cached, per model, and the file size."""
    from tuneworth.providers.cache import CompletionCache

    stats = CompletionCache().stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"{stats['path']}: {stats['entries']} answers, {stats['bytes'] / 1e6:.1f} MB")
    for model, n in stats["by_model"].items():
        click.echo(f"  {model}: {n}")


@cache_cmd.command("clear")
def cache_clear() -> None:
    """Delete every cached answer."""
    from tuneworth.providers.cache import CompletionCache

    click.echo(f"removed {CompletionCache().clear()} cached answers")
