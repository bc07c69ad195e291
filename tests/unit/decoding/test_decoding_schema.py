"""Schema-guided decoding (decoding = "schema") on a tiny local model with random weights, so the
grammar does all the work: output always validates; unsupported keywords are named and skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.tiny_lm import build_tiny_model, needs_local, one_thread
from tuneworth.config.task import ModelConfig
from tuneworth.decoding.plan import response_format
from tuneworth.errors import UnsupportedSchemaError
from tuneworth.providers.base import ChatRequest

pytestmark = needs_local

SYSTEM = "Answer with one JSON object that follows the schema, and nothing else."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tuneworth.providers.local.provider import LocalProvider

    with one_thread():  # a tiny model's matrices are too small to share out; threads only contend
        yield LocalProvider(str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")), ModelConfig())


def _requests(schema: dict[str, Any] | None, n: int = 2, max_tokens: int = 128) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": f"item {i}: go"}),
            max_tokens=max_tokens,
            response_format=response_format(schema, "schema") if schema is not None else None,
            stop_after_json=True,
        )
        for i in range(n)
    ]


WORDS = ["red", "green", "blue sky", 'say "hi"', "ünï", "a\\b"]
PROPERTY = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4, unique=True).map(
        lambda v: {"type": "string", "enum": v}
    ),
    st.tuples(st.integers(-300, 300), st.integers(0, 1000)).map(
        lambda t: {"type": "integer", "minimum": t[0], "maximum": t[0] + t[1]}
    ),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.integers(1, 6).map(lambda n: {"type": "string", "maxLength": n}),
    st.just({"type": "string", "pattern": "^[a-c]{1,3}$"}),
    st.integers(1, 3).map(
        lambda n: {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": n}
    ),
    st.just({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 9}, {"type": "boolean"}]}),
    st.just({"const": "fixed"}),
)


def _object(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": sorted(props), "additionalProperties": False}


NAMES = st.sampled_from(["name", "n", "ok", "tags", "kind", "why"])
SCHEMA = st.dictionaries(NAMES, PROPERTY, min_size=1, max_size=3).flatmap(
    lambda props: st.one_of(
        st.just(_object(props)),
        st.dictionaries(NAMES, PROPERTY, min_size=1, max_size=2).map(
            lambda inner: _object({**props, "inner": _object(inner)})
        ),
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=SCHEMA)
def test_constrained_output_always_validates(tiny: Any, schema: dict[str, Any]) -> None:
    for c in tiny.generate(_requests(schema)):
        assert c.finish_reason == "stop" and c.meta["decoding"] == "schema", c
        value = json.loads(c.text)
        jsonschema.validate(value, schema)
        assert list(value) == list(schema["properties"])  # properties come in the schema's order


@pytest.mark.parametrize("max_tokens", [7, 8, 9])
def test_objects_close_within_max_tokens(tiny: Any, max_tokens: int) -> None:
    """Long string slots (optional, as restaurant8k's) would be cut by max_tokens mid-string; the last
    tokens are spent closing, so every answer parses and follows the schema."""
    slot = {"type": ["string", "null"], "maxLength": 40}
    schema = {
        "type": "object",
        "properties": {k: slot for k in ("date", "time", "people", "first_name")},
        "additionalProperties": False,
    }
    for c in tiny.generate(_requests(schema, n=4, max_tokens=max_tokens)):
        assert c.completion_tokens <= max_tokens
        jsonschema.validate(json.loads(c.text), schema)


def test_free_rows_in_a_constrained_batch_are_untouched(tiny: Any) -> None:
    schema = _object({"ok": {"type": "boolean"}})
    free = _requests(None, n=2, max_tokens=6)
    alone = [c.text for c in tiny.generate(free)]
    mixed = tiny.generate([_requests(schema, n=1)[0], *free])
    assert [c.text for c in mixed[1:]] == alone and json.loads(mixed[0].text) in ({"ok": True}, {"ok": False})


def test_unsupported_keyword_is_named(tiny: Any) -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}
    with pytest.raises(UnsupportedSchemaError, match="keyword 'uniqueItems' is not supported") as e:
        tiny.check_schema(schema)
    assert e.value.keyword == "uniqueItems"
    tiny.check_schema(_object({"n": {"type": "integer", "minimum": 0}}))  # a supported one passes


def _json_task(tmp: Path, model: str, schema: dict[str, Any]) -> Path:
    rows = []
    for i in range(24):
        gold = {"kind": ["a", "b"][i % 2]}
        rows.append(
            {"messages": [{"role": "user", "content": f"message {i}"}, {"role": "assistant", "content": json.dumps(gold)}]}
        )
    (tmp / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    (tmp / "tuneworth.toml").write_text(
        f"""
name = "tinyjson"
[data]
path = "d.jsonl"
validation_size = 4
test_size = 4
[output]
kind = "json"
schema = "schema.json"
[model]
name = "local/{model}"
max_tokens = 24
[rungs.L1]
variants = ["base", "format"]
[rungs.L2]
k = [1]
selection = ["random"]
""",
        encoding="utf-8",
    )
    return tmp


def test_climb_compares_free_and_schema_decoding(tiny: Any, tmp_path: Path) -> None:
    from tests.helpers.raw_record import load_record
    from tuneworth.config.task import load_task
    from tuneworth.providers.model import Model
    from tuneworth.run.climb import climb

    schema = _object({"kind": {"type": "string", "enum": ["a", "b"]}})
    task = load_task(_json_task(tmp_path, str(tiny.path), schema))
    result = climb(task, Model(tiny, batch_size=16), runs_dir=tmp_path / "runs")
    header, items, summary = load_record(result.run_dir)
    assert header["decoding"] == {"modes": ["free", "schema"], "skipped": []}
    by_decoding: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_decoding.setdefault(it["decoding"], []).append(it)
    assert set(by_decoding) == {"free", "schema"}
    assert all(it["valid"] and it["details"]["schema_valid"] for it in by_decoding["schema"])
    for name in ("L1", "L2"):
        gap = header["rungs"][name]["decoding"]
        assert gap["modes"]["schema"]["validity_rate"] == 1.0
        # A random-weight model never writes valid JSON freely, so the verdict is "closed".
        assert gap["modes"]["free"]["validity_rate"] == 0.0 and gap["closed"] is True
        assert "schema decoding closed the format gap" in gap["verdict"]
    l2_configs = [c["config"] for c in header["rungs"]["L2"]["validation"]]
    assert {c.get("decoding", "free") for c in l2_configs} == {"free", "schema"}  # like for like in L2 too
    # L3 (dynamic few-shot here: no documents) keeps the decoding of the rung it builds on.
    assert [(r["name"], r["decoding"]) for r in summary["rungs"]] == [("L1", "schema"), ("L2", "schema"), ("L3", "schema")]
    assert "format gap" in (result.run_dir / "summary.md").read_text()


def test_unsupported_schema_skips_the_variant_and_the_run_goes_on(tiny: Any, tmp_path: Path) -> None:
    from tests.helpers.raw_record import load_record
    from tuneworth.config.task import load_task
    from tuneworth.providers.model import Model
    from tuneworth.run.climb import climb

    schema = {"type": "object", "properties": {"kind": {"type": "string"}}, "dependentRequired": {"kind": []}}
    task = load_task(_json_task(tmp_path, str(tiny.path), schema))
    logs: list[str] = []
    result = climb(task, Model(tiny), runs_dir=tmp_path / "runs", rungs=["L1"], limit=2, log=logs.append)
    header, items, _ = load_record(result.run_dir)
    assert header["status"] == "finished" and header["decoding"]["modes"] == ["free"]
    [skip] = header["decoding"]["skipped"]
    assert skip["mode"] == "schema" and "'dependentRequired' is not supported" in skip["reason"]
    assert any("decoding schema skipped" in line and "dependentRequired" in line for line in logs)
    assert items and all(it["decoding"] == "free" for it in items)
    assert "dependentRequired" in (result.run_dir / "summary.md").read_text()
