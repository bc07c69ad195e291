"""Learning curve (opt-in): fine-tune on 25/50/100 % of train and score each on the same test items.

A rising curve at 100 % says more data would likely help; a flat one says it would not. Subsets are
seeded random samples of the frozen train split; validation and test stay whole, so the points compare
(each point records a digest of the test item ids it was scored on). A fraction that leaves fewer
training examples than fine-tuning accepts is recorded as skipped, with the reason. Every point is
scored with L4's free-decoding prompt, so the points differ only in training data.

The curve is part of the run record's ``training`` section (``rungs.L4.learning_curve = true`` in the
task, or ``tuneworth tune --learning-curve``); inside a climb the 100 % point is L4's own training.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuneworth.record.schema import CurvePoint, Interval, ItemResult

if TYPE_CHECKING:
    from tuneworth.data.split import Split
    from tuneworth.rungs.base import ProgressLike, RunContext
    from tuneworth.rungs.finetuning import FineTuningRung

FRACTIONS = (0.25, 0.5, 1.0)


def curve_point(
    ctx: RunContext, fraction: float, rung: FineTuningRung, results: Sequence[ItemResult], tuned: Any = None
) -> CurvePoint:
    """The point of a trained ``rung`` from its test ``results``; re-scored with the free prompt
    on ``tuned`` (the trained model) when the results used another decoding."""
    from tuneworth.evaluate.runner import Evaluator
    from tuneworth.evaluate.summary import summarize
    from tuneworth.run.rows import interval_method

    strategy = rung.strategy(ctx)
    if tuned is not None and any(r.config != strategy.config for r in results):
        results = Evaluator(ctx, tuned).run([strategy], ctx.split.test, "test")[0]
    task = ctx.task
    row = summarize(
        rung.name, rung.title, strategy.config, [r.model_dump() for r in results], task.primary_metric, task.seed
    )
    interval = None
    if row["ci_low"] is not None and row["ci_high"] is not None:
        interval = Interval(lo=row["ci_low"], hi=row["ci_high"], method=interval_method(task.primary_metric))
    return CurvePoint(
        fraction=fraction,
        train_examples=len(ctx.split.train),
        model=rung.model_spec,
        score=row["score"],
        interval=interval,
        n=row["n"],
        test_items=_digest([r.item_id for r in results]),
        trained_tokens=rung.training.get("trained_tokens"),
        training_seconds=rung.training.get("seconds"),
    )


def learning_curve(
    task: Any,
    model: Any,
    fractions: tuple[float, ...] = FRACTIONS,
    progress: ProgressLike | None = None,
    *,
    split: Split | None = None,
    full: CurvePoint | None = None,
) -> list[CurvePoint]:
    """The curve's points. ``split``: the run's split (default: the task's); ``full``: the 100 %
    point when it is already known (the climb's own L4), so it is not trained twice."""
    from tuneworth.data.load import load_split
    from tuneworth.data.split import Split
    from tuneworth.evaluate.runner import Evaluator
    from tuneworth.finetune.hyper import MIN_TRAIN_EXAMPLES
    from tuneworth.rungs.base import RunContext
    from tuneworth.rungs.finetuning import FineTuningRung

    split = split or load_split(task)[0]
    schema = task.json_schema() if task.output.kind == "json" else None
    points = []
    for fraction in fractions:
        if fraction == 1.0 and full is not None:
            points.append(full)
            continue
        train = list(split.train)
        if fraction < 1.0:
            train = random.Random(task.seed).sample(train, max(1, round(len(train) * fraction)))
        if len(train) < MIN_TRAIN_EXAMPLES:
            why = f"{len(train)} training examples, fewer than the {MIN_TRAIN_EXAMPLES} fine-tuning needs"
            points.append(CurvePoint(fraction=fraction, train_examples=len(train), skipped=why))
            continue
        ctx = RunContext(task, Split(train, split.validation, split.test), schema, model.count_tokens)
        rung = FineTuningRung()
        ft_model = rung.prepare_model(ctx, model, progress)
        results = Evaluator(ctx, ft_model).run([rung.strategy(ctx)], split.test, "test")[0]
        points.append(curve_point(ctx, fraction, rung, results))
    return points


def _digest(item_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(map(str, item_ids))).encode()).hexdigest()[:16]
