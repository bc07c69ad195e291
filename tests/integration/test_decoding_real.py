"""The real bundled model with constraints: schema-guided answers validate, label scoring answers a label."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.helpers.paths import REPO
from tests.helpers.tiny_lm import needs_local
from tuneworth.config.task import ModelConfig
from tuneworth.decoding.plan import response_format
from tuneworth.providers.base import ChatRequest

pytestmark = [needs_local, pytest.mark.slow]
EXAMPLE = REPO / "examples" / "support-triage"
SYSTEM = "You triage customer support messages for Northwind Goods. Classify each message."


def test_real_model_schema_and_choice_decoding() -> None:
    from tuneworth.providers.local.provider import LocalProvider

    p = LocalProvider("smollm2-135m", ModelConfig())
    schema = json.loads((EXAMPLE / "schema.json").read_text())
    lines = (EXAMPLE / "data.jsonl").read_text().splitlines()[:3]
    msgs = [({"role": "system", "content": SYSTEM}, {"role": "user", "content": json.loads(x)["messages"][0]["content"]}) for x in lines]
    free = p.generate([ChatRequest(messages=m, max_tokens=32, stop_after_json=True) for m in msgs])
    constrained = p.generate(
        [ChatRequest(messages=m, max_tokens=32, response_format=response_format(schema, "schema"), stop_after_json=True) for m in msgs]
    )
    for c in constrained:
        value = json.loads(c.text)
        jsonschema.validate(value, schema)
        assert list(value) == list(schema["properties"]) and c.meta["decoding"] == "schema"
    assert any(not c.text.startswith("{") for c in free)  # the format gap the constraint closes
    labels = tuple(schema["properties"]["category"]["enum"])
    for c in p.generate([ChatRequest(messages=m, choices=labels) for m in msgs]):
        assert c.text in labels and set(c.meta["label_logprobs"]) == set(labels)
