from __future__ import annotations

from pathlib import Path

import pytest

from tuneworth.config.task import load_task
from tuneworth.errors import ConfigError


def test_loads_and_resolves(label_task: Path) -> None:
    t = load_task(label_task)
    assert t.name == "toy" and t.output.kind == "label" and t.primary_metric == "accuracy"
    assert t.resolve("data.jsonl") == label_task / "data.jsonl"
    cfg = t.resolved_config()
    assert cfg["model"]["name"] == "fake/echo" and "base_dir" not in cfg


def test_unknown_key_names_key_and_allowed(label_task: Path) -> None:
    f = label_task / "tuneworth.toml"
    f.write_text(f.read_text().replace("[model]", "[model]\ntemprature = 0.3"))
    with pytest.raises(ConfigError) as err:
        load_task(label_task)
    msg = str(err.value)
    assert "unknown key 'model.temprature'" in msg and "temperature" in msg and "max_tokens" in msg


def test_precedence_cli_over_env_over_file(label_task: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_task(label_task).model.name == "fake/echo"
    monkeypatch.setenv("TUNEWORTH_MODEL", "fake/constant:x")
    monkeypatch.setenv("TUNEWORTH_SEED", "99")
    assert load_task(label_task).model.name == "fake/constant:x"
    assert load_task(label_task).seed == 99
    t = load_task(label_task, model="fake/constant:y", seed=5)
    assert (t.model.name, t.seed) == ("fake/constant:y", 5)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (('kind = "label"', 'kind = "lbl"'), "output.kind"),
        (('labels = ["positive", "negative", "neutral"]', ""), "needs output.labels"),
        (('path = "data.jsonl"', 'path = "missing.jsonl"'), "file not found"),
        (('name = "toy"', 'name = "toy"\nmetric = "field_accuracy"'), "does not fit"),
        (("[data]", '[data]\ntrain = "data.jsonl"'), "exactly one of"),
        (("seed = 7", "seed = [7"), "not valid TOML"),
    ],
)
def test_invalid_task_files(label_task: Path, edit: tuple[str, str], needle: str) -> None:
    f = label_task / "tuneworth.toml"
    f.write_text(f.read_text().replace(*edit))
    with pytest.raises(ConfigError, match=needle):
        load_task(label_task)


def test_missing_task_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no task file"):
        load_task(tmp_path)
