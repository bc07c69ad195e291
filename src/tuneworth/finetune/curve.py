"""Learning curve (opt-in): fine-tune on 25/50/100 % of train and score each on the same test items.

A rising curve at 100 % says more data would likely help; a flat one says it would not. Subsets are
seeded random samples of the frozen train split; validation and test stay whole, so the points compare
(each point records a digest of the test item ids it was scored on). A fraction that leaves fewer
training examples than fine-tuning accepts is recorded as skipped, with the reason.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

FRACTIONS = (0.25, 0.5, 1.0)


def learning_curve(
    task: Any, model: Any, fractions: tuple[float, ...] = FRACTIONS, progress: Any = None
) -> list[dict[str, Any]]:
    from tuneworth.data.split import Split
    from tuneworth.evaluate.runner import Evaluator
    from tuneworth.evaluate.summary import summarize
    from tuneworth.finetune.hyper import MIN_TRAIN_EXAMPLES
    from tuneworth.run.climb import load_split
    from tuneworth.rungs.base import RunContext
    from tuneworth.rungs.finetuning import FineTuningRung

    split, _ = load_split(task)
    schema = task.json_schema() if task.output.kind == "json" else None
    points = []
    for fraction in fractions:
        train = list(split.train)
        if fraction < 1.0:
            train = random.Random(task.seed).sample(train, max(1, round(len(train) * fraction)))
        if len(train) < MIN_TRAIN_EXAMPLES:
            points.append(
                {
                    "fraction": fraction,
                    "train_examples": len(train),
                    "skipped": f"{len(train)} training examples, fewer than the {MIN_TRAIN_EXAMPLES} "
                    "fine-tuning needs",
                }
            )
            continue
        ctx = RunContext(task, Split(train, split.validation, split.test), schema, model.count_tokens)
        rung = FineTuningRung()
        ft_model = rung.prepare_model(ctx, model, progress)
        strategy = rung.strategy(ctx)
        results = Evaluator(ctx, ft_model).run([strategy], split.test, "test")[0]
        row = summarize(
            "L4", rung.title, strategy.config, [r.to_dict() for r in results], task.primary_metric, task.seed
        )
        points.append(
            {
                "fraction": fraction,
                "train_examples": len(train),
                "model": rung.model_spec,
                "score": row["score"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "n": row["n"],
                "test_items": _digest([r.item_id for r in results]),
                "trained_tokens": rung.training.get("trained_tokens"),
                "training_seconds": rung.training.get("seconds"),
            }
        )
    return points


def _digest(item_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(map(str, item_ids))).encode()).hexdigest()[:16]


def write_curve(path: Path, points: list[dict[str, Any]]) -> None:
    from tuneworth.run.record import write_json_atomic

    write_json_atomic(path, {"learning_curve": points})
