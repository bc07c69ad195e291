"""Fuzz the task-file loader: any text gives a Task or a ConfigError/DatasetError, never a traceback."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneworth.config.task import load_task
from tuneworth.errors import TuneworthError

KEYS = [
    "name",
    "seed",
    "data",
    "path",
    "kind",
    "labels",
    "model",
    "metric",
    "rungs",
    "L1",
    "k",
    "output",
    "schema",
]
VALUES = [
    '"x"',
    "1",
    "-3",
    "0.5",
    "true",
    '["a", "b"]',
    '"data.jsonl"',
    '"json"',
    '"label"',
    "[1, 2]",
    "{}",
    '"fake/echo"',
]


@st.composite
def toml_docs(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            lines.append(f"[{draw(st.sampled_from(KEYS))}]")
        lines.append(f"{draw(st.sampled_from(KEYS))} = {draw(st.sampled_from(VALUES))}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=toml_docs())
def test_fuzz_task_loader(tmp_path: Path, doc: str) -> None:
    (tmp_path / "data.jsonl").write_text('{"prompt": "a", "completion": "b"}\n', encoding="utf-8")
    f = tmp_path / "tuneworth.toml"
    f.write_text(doc, encoding="utf-8")
    try:
        load_task(f)
    except TuneworthError as e:
        assert str(e)
