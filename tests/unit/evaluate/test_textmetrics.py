"""Free-text metrics against known values (hand-computed, published, or an independent formula)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from tuneworth.evaluate.summary import summarize
from tuneworth.evaluate.textmetrics import (
    EmbeddingSimilarity,
    lcs_length,
    rouge_l,
    score_free_text,
    token_f1,
)


def test_token_f1_known_values() -> None:
    # "the"/"a" are articles (SQuAD normalisation): cat,sat vs cat,sat,down -> P=1, R=2/3, F1=0.8
    assert token_f1("The cat sat.", "a cat sat down") == pytest.approx(0.8)
    assert token_f1("Paris", "paris!") == 1.0
    assert token_f1("red red blue", "red green") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0 and token_f1("dog", "cat") == 0.0


def test_rouge_l_matches_the_rouge_score_readme_example() -> None:
    # rouge-score's README: target "The quick brown fox jumps over the lazy dog",
    # prediction "The quick brown dog jumps on the log." -> rougeL P=0.625, R=0.5556, F=0.5882.
    f = rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog")
    assert f == pytest.approx(0.5882352941176471)
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the textbook CLRS example
    assert rouge_l("same words here", "Same words, here!") == 1.0 and rouge_l("a", "b") == 0.0


def _chrf_reference(hyp: str, ref: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015/2017): F-beta of the character n-gram precision and recall averaged over
    n = 1..6, whitespace removed (texts here are long enough for every order)."""
    hyp, ref = hyp.replace(" ", ""), ref.replace(" ", "")
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        match = sum((h & r).values())
        precisions.append(match / sum(h.values()))
        recalls.append(match / sum(r.values()))
    p, rec = sum(precisions) / order, sum(recalls) / order
    return 0.0 if p + rec == 0 else (1 + beta**2) * p * rec / (beta**2 * p + rec)


@pytest.mark.skipif(importlib.util.find_spec("sacrebleu") is None, reason="needs sacrebleu ([local] extra)")
def test_chrf_is_sacrebleu_and_matches_the_formula() -> None:
    from tuneworth.evaluate.textmetrics import chrf

    assert chrf("The dog bit the man.", "The dog bit the man.") == pytest.approx(1.0)
    assert chrf("xyzxyzq", "abcdefg") == 0.0
    for hyp, ref in [
        ("Thanks so much for waiting", "Thank you so much for your patience"),
        ("Your parcel ships on Monday", "The parcel will ship Monday morning"),
    ]:
        assert chrf(hyp, ref) == pytest.approx(_chrf_reference(hyp, ref), abs=1e-6)


def test_score_free_text_records_every_metric_and_the_pass() -> None:
    sc = score_free_text(
        "the cat sat", "a cat sat down", "token_f1", ("exact", "normalized", "token_f1", "rouge_l", "chrf"), None, 0.75
    )
    assert sc.value == pytest.approx(0.8) and sc.details["pass"] is True
    assert set(sc.details) == {"exact", "normalized", "token_f1", "rouge_l", "chrf", "pass"}
    assert sc.details["exact"] is False


def test_summary_pass_rate_and_text_means() -> None:
    items = [
        {"score": v, "valid": True, "error": None, "latency_ms": 1.0, "prompt_tokens": 1, "completion_tokens": 1,
         "details": {"token_f1": v, "pass": v >= 0.5}}
        for v in (0.2, 0.6, 0.9, 1.0)
    ]
    row = summarize("L1", "L1 prompting", {}, items, "token_f1", seed=0)
    assert row["pass_rate"] == 0.75 and 0 < row["pass_interval"]["lo"] < 0.75 < row["pass_interval"]["hi"] < 1
    assert row["metrics"]["token_f1_mean"] == pytest.approx(0.675)
    assert row["ci_low"] < row["score"] < row["ci_high"]  # continuous: bootstrap, not Wilson


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None, reason="needs the [local] extra")
def test_embedding_cosine_with_the_bundled_embedder() -> None:
    from tuneworth.embeddings.load import load_embedder

    emb = load_embedder()
    cos = EmbeddingSimilarity(emb)
    a, b = "Your refund is on its way.", "We have sent your money back."
    v = emb.embed([a, b])
    assert cos(a, b) == pytest.approx(float(v[0] @ v[1]), abs=1e-5)
    assert cos(a, a) == pytest.approx(1.0, abs=1e-5)
    assert cos(a, b) > cos(a, "The volcano erupted in 1883.")
    assert cos("", "") == 1.0 and cos("x", "") == 0.0


def test_text_metric_needs_a_text_task(tmp_path: Path) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.errors import ConfigError

    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    (tmp_path / "tuneworth.toml").write_text(
        'name = "t"\nmetric = "rouge_l"\n[data]\npath = "d.jsonl"\n[output]\nkind = "label"\nlabels = ["b"]\n'
    )
    with pytest.raises(ConfigError, match="does not fit"):
        load_task(tmp_path)
