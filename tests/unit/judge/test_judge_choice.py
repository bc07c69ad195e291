"""A local judge is decoded by label scoring: every judgement parses, on a tiny real model.

A 2-layer Llama with random weights (tests/tiny_lm.py) says nothing sensible, which is the point:
free text from it would rarely read ``Score: N``; label scoring over "1".."5" always gives a score,
and the labels' log-probabilities are kept as the raw judgement.
"""

from __future__ import annotations

import pytest

from tests.helpers.tiny_lm import build_tiny_model, needs_local, one_thread
from tuneworth.judge.judge import POINTWISE_LABELS, Judge
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model

pytestmark = needs_local

RUBRIC = "Warm and brief.\n5: right and warm\n4: right\n3: generic\n2: partly wrong\n1: wrong"
ITEMS = [
    ("Where is my order?", "It ships Monday.", "Your order ships Monday. - Pip"),
    ("Do you ship to Peru?", "No.", "We do! Five to eight days. - Pip"),
    ("Can I return yarn?", "Yes, within 30 days.", "Yes: 30 days, unwound. - Pip"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Model:
    from tuneworth.config.task import ModelConfig
    from tuneworth.providers.local.provider import LocalProvider

    path = build_tiny_model(tmp_path_factory.mktemp("tiny-judge"))
    return Model(LocalProvider(str(path), ModelConfig()), batch_size=8)


def test_local_judge_scores_labels_and_always_parses(tiny: Model) -> None:
    judge = Judge(tiny, RUBRIC)
    assert judge.decoding == "choice" and judge.labels == POINTWISE_LABELS
    assert "single number from 1 to 5" in judge.system and "Reason:" not in judge.system
    with one_thread():
        out = judge.judge_many(ITEMS)
    for j in out:
        assert j.unparseable == 0 and j.verdicts[0] in (1, 2, 3, 4, 5)
        assert j.raw[0] == str(j.verdicts[0]) and j.value == (j.verdicts[0] - 1) / 4
        logprobs = j.label_logprobs[0]  # type: ignore[index]
        assert set(logprobs) == set(POINTWISE_LABELS) and max(logprobs, key=logprobs.get) == j.raw[0]
        assert "label_logprobs" in j.to_dict()
    assert judge.describe()["decoding"] == "choice"


def test_local_pairwise_judge_with_swapping_on_identical_answers(tiny: Model) -> None:
    same = [(q, ref, ref) for q, _, ref in ITEMS]
    with one_thread():
        out = Judge(tiny, RUBRIC, mode="pairwise", swap=True).judge_many(same)
    for j in out:
        assert j.unparseable == 0 and j.raw[0] in ("A", "B", "tie") and j.raw[0] == j.raw[1]
        assert j.value == 0.5  # whatever the label, swapping scores identical answers even


def test_api_and_fake_judges_keep_the_text_path() -> None:
    judge = Judge(Model(FakeProvider(lambda r: "Score: 3\nReason: fine")), RUBRIC)
    assert judge.decoding == "text" and judge.labels == () and "Score: <a number" in judge.system
    (j,) = judge.judge_many(ITEMS[:1])
    assert j.verdicts == [3] and j.label_logprobs is None
