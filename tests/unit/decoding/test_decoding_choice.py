"""Label scoring (decoding = "choice") on a tiny local model: the planted label wins, the batched
shared-prefix path equals a naive per-label forward pass, bad label sets are refused."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tiny_lm import build_tiny_model, needs_local, one_thread
from tuneworth.config.task import ModelConfig, load_task
from tuneworth.errors import ConfigError
from tuneworth.providers.base import ChatRequest

pytestmark = needs_local

SYSTEM = "You sort short customer messages into one of a few labels. Reply with the label only, nothing else."
MESSAGES = ["my parcel never came", "love it", "the app crashes when I log in, again and again", "?", "refund pls"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tuneworth.providers.local.provider import LocalProvider

    with one_thread():  # a tiny model's matrices are too small to share out; threads only contend
        yield LocalProvider(str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")), ModelConfig())



def _requests(labels: tuple[str, ...]) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": m}), choices=labels
        )
        for m in MESSAGES
    ]


def test_the_planted_label_wins(tiny: Any) -> None:
    import torch

    p = tiny
    original = p.model.lm_head
    hidden, vocab = original.in_features, original.out_features
    head = torch.nn.Linear(hidden, vocab, bias=True)
    head.weight.data.zero_()
    p.model.lm_head = head  # logits = bias, whatever the context: we control them
    try:
        labels = ("alpha", "beta", "gamma ray", "delta")
        for planted in labels:
            head.bias.data.zero_()
            for t in [*p.tokenizer.encode(planted, add_special_tokens=False), p.tokenizer.eos_token_id]:
                head.bias.data[t] = 8.0
            out = p.generate(_requests(labels))
            assert [c.text for c in out] == [planted] * len(MESSAGES)
            for c in out:
                scores = c.meta["label_logprobs"]
                assert c.meta["decoding"] == "choice" and max(scores, key=scores.get) == planted
                assert c.completion_tokens == len(p.tokenizer.encode(planted, add_special_tokens=False)) + 1
    finally:
        p.model.lm_head = original


@pytest.mark.parametrize("max_rows", [64, 6])
def test_batched_prefix_scoring_equals_naive_forward(tiny: Any, monkeypatch: pytest.MonkeyPatch, max_rows: int) -> None:
    import torch

    from tuneworth.decoding import choice

    monkeypatch.setattr(choice, "MAX_ROWS", max_rows)  # 6 rows: several passes, rows selected from the cache
    labels = ("billing", "shipping", "technical support", "no")
    out = tiny.generate(_requests(labels))
    tok = tiny.tokenizer
    for req, c in zip(_requests(labels), out, strict=True):
        prompt = tok(tiny.render(req), add_special_tokens=False)["input_ids"]
        for label in labels:
            ids = [*tok.encode(label, add_special_tokens=False), tok.eos_token_id]
            with torch.inference_mode():
                logits = tiny.model(torch.tensor([prompt + ids])).logits[0].float()
            lp = logits[len(prompt) - 1 : -1].log_softmax(-1)
            expected = sum(lp[k, t].item() for k, t in enumerate(ids)) / len(ids)
            assert math.isclose(c.meta["label_logprobs"][label], expected, abs_tol=2e-3), (label, c.meta)
        scores = c.meta["label_logprobs"]
        assert c.text == max(scores, key=scores.get)


def test_mixed_batch_of_scored_and_generated_requests(tiny: Any) -> None:
    labels = ("yes", "no")
    scored = _requests(labels)[:2]
    free = [ChatRequest(messages=r.messages, max_tokens=4) for r in scored]
    alone = tiny.generate(free)
    mixed = tiny.generate([scored[0], free[0], scored[1], free[1]])
    assert [c.text for c in (mixed[1], mixed[3])] == [c.text for c in alone]
    assert mixed[0].text in labels and mixed[2].text in labels and "decoding" not in mixed[1].meta


def test_labels_that_tokenize_identically_are_refused(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tuneworth.decoding.choice import check_labels

    word = Tokenizer(models.WordLevel({"[UNK]": 0, "</s>": 1, "yes": 2, "no": 3}, unk_token="[UNK]"))
    word.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=word, unk_token="[UNK]", eos_token="</s>")
    check_labels(tok, ["yes", "no", "maybe"], "local/word")  # distinct token ids: fine
    with pytest.raises(ConfigError, match="'perhaps' and 'maybe' tokenize identically"):
        check_labels(tok, ["yes", "maybe", "perhaps"], "local/word")


def test_validate_refuses_labels_the_local_tokenizer_cannot_tell_apart(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    word = Tokenizer(models.WordLevel({"[UNK]": 0, "</s>": 1, "yes": 2, "no": 3}, unk_token="[UNK]"))
    word.pre_tokenizer = pre_tokenizers.Whitespace()
    model = tmp_path / "word-model"
    PreTrainedTokenizerFast(tokenizer_object=word, unk_token="[UNK]", eos_token="</s>").save_pretrained(model)
    (model / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    rows = "".join(f'{{"prompt": "message {i}", "completion": "yes"}}\n' for i in range(12))
    (tmp_path / "d.jsonl").write_text(rows, encoding="utf-8")

    def validate(modes: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "tuneworth.toml").write_text(
            f'name = "t"\n[data]\npath = "d.jsonl"\n[output]\nkind = "label"\nlabels = ["yes", "maybe", "perhaps"]\n'
            f'[model]\nname = "local/{model}"\n[decoding]\nmodes = {modes}\n',
            encoding="utf-8",
        )
        return subprocess.run(
            [sys.executable, "-m", "tuneworth", "validate", str(tmp_path)], capture_output=True, text=True
        )

    bad = validate('["free", "constrained"]')
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "'perhaps' and 'maybe' tokenize identically" in bad.stderr and "rename one of the labels" in bad.stderr
    assert validate('["free"]').returncode == 0  # no label scoring asked for: nothing to tell apart


def test_duplicate_labels_fail_task_validation(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "Yes"}\n', encoding="utf-8")
    (tmp_path / "tuneworth.toml").write_text(
        'name = "t"\n[data]\npath = "d.jsonl"\n[output]\nkind = "label"\nlabels = ["Yes", "no", "yes "]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="'yes ' duplicates 'Yes'"):
        load_task(tmp_path)


def test_climb_runs_choice_as_a_variant_of_l1_and_l2(tiny: Any, label_task: Path, tmp_path: Path) -> None:
    from tests.helpers.raw_record import load_record
    from tuneworth.providers.model import Model
    from tuneworth.run.climb import climb

    task = load_task(label_task, model=f"local/{tiny.path}")
    result = climb(task, Model(tiny, batch_size=32), runs_dir=tmp_path / "runs", limit=4)
    header, items, summary = load_record(result.run_dir)
    assert header["decoding"]["modes"] == ["free", "choice"]
    l1 = [c["config"] for c in header["rungs"]["L1"]["validation"]]
    # Every plain prompt variant also runs with label scoring; chain-of-thought stays free.
    assert {c["variant"] for c in l1 if c.get("decoding") == "choice"} == {"base", "format", "rules"}
    choice_items = [it for it in items if it["decoding"] == "choice"]
    assert choice_items and all(it["valid"] and it["output"] in task.output.labels for it in choice_items)
    assert {it["decoding"] for it in items} == {"free", "choice"}
    for row in summary["rungs"]:
        assert row["decoding"] in ("free", "choice") and "decoding" in header["rungs"][row["name"]]


def test_plan_skips_what_cannot_run(label_task: Path) -> None:
    from tuneworth.decoding.plan import plan_decodings
    from tuneworth.providers.fake import FakeProvider

    task = load_task(label_task)
    plan = plan_decodings(task, None, FakeProvider(lambda r: "x", "fake/echo"))
    assert plan.modes == ["free"]
    assert plan.skipped == [{"mode": "choice", "reason": "fake/echo cannot do choice decoding"}]
    text = task.model_copy(update={"output": task.output.model_copy(update={"kind": "text", "labels": None})})
    assert plan_decodings(text, None, FakeProvider(lambda r: "x")).skipped[0]["mode"] == "constrained"


def test_format_gap_verdicts() -> None:
    from tuneworth.decoding.gap import compare_decodings

    def items(mode: str, valid: list[bool], score: float) -> list[dict[str, Any]]:
        cfg = {"variant": "base"} | ({"decoding": mode} if mode != "free" else {})
        return [{"config": cfg, "score": score, "valid": v, "error": None} for v in valid]

    closed = compare_decodings(items("free", [False, True], 0.2) + items("choice", [True, True], 0.5), "choice")
    assert closed["closed"] is True and closed["modes"]["free"]["validity_rate"] == 0.5
    assert closed["verdict"].startswith("choice decoding closed the format gap: valid 50% -> 100%")
    none = compare_decodings(items("free", [True, True], 0.6) + items("choice", [True, True], 0.5), "free")
    assert none["closed"] is None and none["verdict"].startswith("no format gap")
    open_ = compare_decodings(items("free", [False], 0.0) + items("schema", [True, False], 0.3), "schema")
    assert open_["closed"] is False and "did not close" in open_["verdict"]
