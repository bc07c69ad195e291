"""Getting the judge ready for a climb, in the order that protects the user's money.

Everything that can be wrong with the input is checked before any model is called: the rubric
(empty, no scale), the calibration file (every line, every item in the test set), then the judge
model is built and probed (an API judge must answer a free model listing). Only then does the
calibration run, before the ladder's first paid call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tuneworth.config.rubric import load_rubric
from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.errors import AuthError, ProviderError
from tuneworth.judge.calibration import calibrate, load_calibration
from tuneworth.judge.judge import Judge
from tuneworth.providers.model import Model


def check_reachable(model: Model) -> None:
    """Raise a clear ProviderError when an API judge cannot be reached (no completion is paid for).

    Local and fake judges probe as a no-op: building them already loaded (or failed to load) the weights."""
    try:
        model.provider.probe()
    except AuthError as e:
        raise AuthError(
            f"judge model {model.model_id}: authentication failed ({e.message})",
            hint="check judge.model.api_key_env and the key it names",
        ) from None
    except ProviderError as e:
        raise ProviderError(
            f"judge model {model.model_id} cannot be reached ({e.message})",
            hint="start the server, or fix judge.model.base_url / $OPENAI_BASE_URL",
        ) from None


def prepare_judge(
    task: Task,
    test: Sequence[Example],
    judge: Judge | None = None,
    *,
    cache: bool | None = None,
    log: Callable[[str], None] | None = None,
    models: dict[str, Model] | None = None,
) -> tuple[Judge, dict[str, Any]]:
    """Check the rubric and calibration file, build and probe the judge, run the calibration.

    ``models``: models already loaded for the rungs, by spec; a judge on the same spec shares it
    (one copy of the weights in memory). Returns the judge and the record's ``judge`` section.
    """
    cfg = task.judge
    rubric = load_rubric(task)
    labels = load_calibration(task.resolve(cfg.calibration), test, mode=cfg.mode) if cfg.calibration else None
    if judge is None:
        from tuneworth.providers.registry import resolve_model

        model = (models or {}).get(cfg.model.name) or resolve_model(cfg.model.name, cfg.model, cache=cache)
        judge = Judge(
            model,
            rubric,
            mode=cfg.mode,
            swap=cfg.swap,
            decoding=None if cfg.decoding == "auto" else cfg.decoding,
            max_tokens=cfg.model.max_tokens,
            temperature=cfg.model.temperature,
            seed=task.seed,
        )
    check_reachable(judge.model)
    info: dict[str, Any] = {**judge.describe(), "spec": cfg.model.name, "warnings": []}
    if labels is not None:
        if log:
            log(f"judge: calibrating {judge.model.model_id} on {len(labels)} human judgements")
        result = calibrate(judge, labels, min_agreement=cfg.min_agreement, seed=task.seed)
        result["file"] = cfg.calibration
        info["calibration"] = result
        if result["warning"]:
            info["warnings"].append(result["warning"])
    else:
        info["calibration"] = None
        info["warnings"].append(
            "judge calibration: no human-labelled file (judge.calibration), so the judge's agreement "
            "with people is unknown"
        )
    for w in info["warnings"]:
        if log:
            log(f"warning: {w}")
    return judge, info
