"""``tuneworth prepare``, ``tuneworth tune`` and ``tuneworth eval``: the fine-tuning commands.

``tune`` is the climb with L4 alone (a run record like any other, with its ``training`` section);
``eval`` scores any model (``local/ft:...`` included) on the task's test split with L4's prompt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


@click.command("prepare")
@click.argument("task", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="Directory to write into."
)
@click.option("--seed", type=int, help="Seed for the split (overrides $TUNEWORTH_SEED).")
def prepare_cmd(task: Path, out: Path, seed: int | None) -> None:
    """Write TASK's train and validation splits as OpenAI chat fine-tuning files (train.jsonl, validation.jsonl)."""
    from tuneworth.config.task import load_task
    from tuneworth.finetune.hyper import MIN_TRAIN_EXAMPLES
    from tuneworth.finetune.prepare import prepare

    info = prepare(load_task(task, seed=seed), out)
    click.echo(f"{info['train_file']}: {info['train']} examples")
    click.echo(
        f"{info['validation_file']}: {info['validation']} examples (test split: {info['test']}, not written)"
    )
    if info["train"] < MIN_TRAIN_EXAMPLES:
        click.echo(f"warning: fine-tuning needs at least {MIN_TRAIN_EXAMPLES} training examples", err=True)


def _run(
    task: Any, model_spec: str | None, runs_dir: Path, out: Path | None, no_cache: bool, as_json: bool
) -> Any:
    from rich.console import Console

    from tuneworth.errors import ConfigError
    from tuneworth.providers.registry import resolve_model
    from tuneworth.report.terminal import RichProgress, results_table
    from tuneworth.run.climb import climb
    from tuneworth.rungs.finetuning import FineTuningRung

    if out is not None and out.exists():
        raise ConfigError(f"--out {out} already exists", hint="choose a new directory or omit --out")
    console = Console(stderr=True)
    spec = model_spec or task.model.name
    if no_cache:  # the embedding cache too, not only completions
        from tuneworth.providers.cache import caches_off

        click.get_current_context().with_resource(caches_off())
    m = resolve_model(spec, task.model, cache=False if no_cache else None)
    result = climb(
        task,
        m,
        runs_dir=runs_dir,
        run_dir=out,
        rungs=[FineTuningRung.name],  # the training rung alone
        progress=RichProgress(console),
        log=lambda s: console.print(f"  {s}"),
    )
    from tuneworth.record.store import sections_dict

    training = result.summary.training
    if as_json:
        click.echo(json.dumps(sections_dict(result.summary), indent=2, ensure_ascii=False))
    else:
        Console(width=None if sys.stdout.isatty() else 120).print(results_table(result.summary))
        if training is not None and training.trained:
            console.print(
                f"fine-tuned {training.model_id} in {training.seconds} s, "
                f"{training.trained_tokens} trained tokens"
                + (" (reused an identical earlier training)" if training.reused else "")
            )
    console.print(f"run record: {result.run_dir}")
    return result, m, console


_common = [
    click.option(
        "--runs-dir",
        type=click.Path(path_type=Path),
        default=Path("runs"),
        show_default=True,
        help="Where run directories are created.",
    ),
    click.option(
        "--out", type=click.Path(path_type=Path), help="Exact run directory to create (must not exist)."
    ),
    click.option("--no-cache", is_flag=True, help="Do not read or write the completion and embedding caches."),
    click.option(
        "--json", "as_json", is_flag=True, help="Print summary.json to stdout instead of the table."
    ),
]


def _with_common(f: Any) -> Any:
    for option in reversed(_common):
        f = option(f)
    return f


@click.command("tune")
@click.argument("task", type=click.Path(path_type=Path))
@click.option("--model", help="Base model as provider/name (overrides the task file).")
@click.option("--seed", type=int, help="Seed for the split and training.")
@click.option(
    "--learning-curve",
    is_flag=True,
    help="Also fine-tune on 25 % and 50 % of train and score each (rungs.L4.learning_curve).",
)
@_with_common
def tune_cmd(
    task: Path,
    model: str | None,
    seed: int | None,
    learning_curve: bool,
    runs_dir: Path,
    out: Path | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Run L4 alone on TASK: fine-tune on train, keep the best validation checkpoint, score on test."""
    from tuneworth.config.task import load_task

    t = load_task(task, model=model, seed=seed)
    if learning_curve:  # part of the run record's training section, so the decision reads it
        t.rungs.L4.learning_curve = True
    result, _, console = _run(t, None, runs_dir, out, no_cache, as_json)
    training = result.summary.training
    for p in (training.learning_curve or []) if training is not None else []:
        if p.skipped:
            console.print(f"  {p.fraction:>4.0%} of train: skipped ({p.skipped})")
        elif p.score is not None and p.interval is not None:
            console.print(
                f"  {p.fraction:>4.0%} of train ({p.train_examples} examples): "
                f"{p.score:.3f} [{p.interval.lo:.3f}, {p.interval.hi:.3f}]"
            )


@click.command("eval")
@click.argument("task", type=click.Path(path_type=Path))
@click.option("--model", required=True, help="Model to score, e.g. local/ft:smollm2-135m:tuneworth:abc12345.")
@_with_common
def eval_cmd(task: Path, model: str, runs_dir: Path, out: Path | None, no_cache: bool, as_json: bool) -> None:
    """Score MODEL on TASK's test split (with the task's own system prompt, as L4 uses it)."""
    from tuneworth.config.task import load_task

    t = load_task(task, model=model)
    t.rungs.L4.model = model
    _run(t, model, runs_dir, out, no_cache, as_json)
