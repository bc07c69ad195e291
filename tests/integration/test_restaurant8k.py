"""Realistic data: PolyAI's restaurant8k slot extraction (../shared, CC-BY-4.0), as a JSON task.

Skips with a reason where ../shared is absent (a user's clone has none).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tuneworth.config.task import load_task
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import climb, load_split

SHARED = REPO.parent / "shared" / "datasets" / "restaurant8k"
pytestmark = pytest.mark.skipif(
    not (SHARED / "train.json").is_file(), reason=f"{SHARED} not present (only in the dev workspace)"
)


def _convert(limit: int, out: Path) -> None:
    items = json.loads((SHARED / "train.json").read_text(encoding="utf-8"))[:limit]
    with out.open("w", encoding="utf-8") as f:
        for it in items:
            text = it["userInput"]["text"]
            gold = {
                lab["slot"]: text[lab["valueSpan"].get("startIndex", 0) : lab["valueSpan"]["endIndex"]]
                for lab in it.get("labels", [])
            }
            msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": json.dumps(gold)}]
            f.write(json.dumps({"messages": msgs}) + "\n")


def test_constant_empty_answer_scores_exactly_the_share_of_empty_gold(tmp_path: Path) -> None:
    _convert(800, tmp_path / "data.jsonl")
    (tmp_path / "tuneworth.toml").write_text(
        'name = "restaurant8k"\nmetric = "object_match"\n[data]\npath = "data.jsonl"\nvalidation_size = 40\ntest_size = 120\n'
        '[prompt]\nsystem = "Extract the booking slots as JSON."\n[output]\nkind = "json"\n[model]\nname = "fake/constant:{}"\n',
        encoding="utf-8",
    )
    task = load_task(tmp_path)
    split, info = load_split(task)
    assert info.sizes["test"] == 120 and info.sizes["train"] + 160 <= 800
    norm = {e.input.strip().lower() for e in split.train}
    assert not any(e.input.strip().lower() in norm for e in split.test)  # real duplicates exist; none leak
    empty_share = sum(1 for e in split.test if json.loads(e.output) == {}) / len(split.test)
    result = climb(task, Model(FakeProvider(lambda r: "{}")), runs_dir=tmp_path / "runs", rungs=["L1"])
    row = result.summary.rungs[0]
    assert 0 < empty_share < 1
    assert row.score == pytest.approx(empty_share)
    assert row.metrics["parse_rate"] == 1.0 and row.metrics["object_match_rate"] == pytest.approx(
        empty_share
    )
