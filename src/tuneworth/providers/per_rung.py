"""A model per rung: the task may run L1-L3 on a large prompted model and fine-tune a small one on L4.

``model.rungs`` in the task file maps rung names to ``provider/name`` specs; each is resolved like
the main model (same settings, its own name) and shares the main model's cache setting.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuneworth.config.task import Task
from tuneworth.providers.model import Model


def rung_models(
    task: Task, default: Model, wanted: Sequence[str], given: dict[str, Model] | None = None
) -> dict[str, Model]:
    """The model of every wanted rung: ``given`` first, then ``model.rungs``, else ``default``."""
    from tuneworth.providers.registry import resolve_model

    out: dict[str, Model] = {}
    built: dict[str, Model] = {}
    for rung in wanted:
        if given and rung in given:
            out[rung] = given[rung]
            continue
        spec = task.model.for_rung(rung)
        if spec == task.model.name:
            out[rung] = default
            continue
        if spec not in built:
            config = task.model.model_copy(update={"name": spec, "rungs": {}})
            built[spec] = resolve_model(spec, config, cache=default.cache is not None)
        out[rung] = built[spec]
    return out
