"""The checklist items the planted data set in test_audit_checks.py cannot show on its own, each with one
planted problem in otherwise clean data: label tasks (per-class minimum, label spelling, missing classes,
imbalance), JSON output consistency (parse rate, rare keys, schema), free-text style and length outliers,
edge-case shares, and the sampled token counting used for big files. No embeddings: fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tuneworth.audit.checks import balance, consistency, coverage, size
from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult
from tuneworth.audit.reader import read_dataset
from tuneworth.audit.tokens import token_counter
from tuneworth.config.task import AuditConfig

SYSTEM = "Answer the customer."
QUESTIONS = [
    "Where is my parcel", "How do I reset my password", "Can I get a refund for the lamp",
    "Why was I charged twice", "Do you ship to Norway", "Is the table made of oak",
    "My account is locked", "The kettle stopped working", "Can I change my delivery address",
    "How long does a refund take", "The invoice shows the wrong price", "Do you sell gift cards",
]


def _write(path: Path, pairs: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for q, a in pairs:
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                    {"role": "assistant", "content": a}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return path


def _ctx(tmp_path: Path, pairs: list[tuple[str, str]], kind: str, **kw: Any) -> AuditContext:
    ds = read_dataset(_write(tmp_path / "data.jsonl", pairs))
    assert not ds.problems
    return AuditContext(data=ds, kind=kind, use_embeddings=False, **kw)


def _q(i: int) -> str:
    return f"{QUESTIONS[i % len(QUESTIONS)]} (order {i})"


def _lines(result: CheckResult) -> set[int]:
    return {n for ev in result.evidence for n in ev.lines}


def test_label_task_per_class_minimum_and_spelling(tmp_path: Path) -> None:
    labels = ["billing"] * 30 + ["shipping"] * 29 + ["Shipping"] + ["account"] * 3
    ctx = _ctx(tmp_path, [(_q(i), lab) for i, lab in enumerate(labels)], "label",
               labels=["billing", "shipping", "account"])
    s = size.run(ctx)
    assert s.status == "warn" and s.metrics["per_class"]["account"] == 3
    # 'account' (3) and the one-off spelling 'Shipping.' (1) are the classes under 10 examples
    assert _lines(s) == {61, 62, 63, 60}
    c = consistency.run(ctx)
    assert c.status == "warn" and "spelled 2 ways" in c.reason and _lines(c) == {60}
    b = balance.run(ctx)
    assert b.metrics["label"]["missing"] == []


def test_balance_missing_class_and_imbalance(tmp_path: Path) -> None:
    labels = ["billing"] * 60 + ["shipping"] * 4
    ctx = _ctx(tmp_path, [(_q(i), lab) for i, lab in enumerate(labels)], "label",
               labels=["billing", "shipping", "returns"])
    b = balance.run(ctx)
    m = b.metrics["label"]
    assert b.status == "warn" and m["missing"] == ["returns"] and m["imbalance_ratio"] == 15.0
    assert _lines(b) == {61, 62, 63, 64}  # the rarest class's lines; the missing class has none
    even = _ctx(tmp_path, [(_q(i), ["billing", "shipping"][i % 2]) for i in range(40)], "label",
                labels=["billing", "shipping"])
    assert balance.run(even).status == "pass"


def test_json_consistency_parse_rare_key_and_schema(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"topic": {"enum": ["billing", "shipping"]}, "note": {"type": "string"}},
              "required": ["topic"]}
    outs = [json.dumps({"topic": ["billing", "shipping"][i % 2]}) for i in range(40)]
    outs[9] = "topic: billing"                                   # not JSON
    outs[19] = json.dumps({"topic": "refunds"})                  # breaks the schema's enum
    outs[29] = json.dumps({"topic": "billing", "note": "vip"})   # a key only one output has
    ctx = _ctx(tmp_path, [(_q(i), o) for i, o in enumerate(outs)], "json", schema=schema)
    c = consistency.run(ctx)
    assert c.status == "fail" and c.metrics["json_parse_rate"] == 0.975 and c.metrics["key_sets"] == 2
    by_msg = {ev.message.split(" (")[0].split(":")[0]: ev.lines for ev in c.evidence}
    assert by_msg == {"output is not a JSON object": [10], "rare key 'note'": [30],
                      "output does not match the schema": [20]}
    clean = [json.dumps({"topic": ["billing", "shipping"][i % 2]}) for i in range(40)]
    assert consistency.run(_ctx(tmp_path, [(_q(i), o) for i, o in enumerate(clean)], "json", schema=schema)).status == "pass"


def test_text_style_language_and_length_outliers(tmp_path: Path) -> None:
    outs = [f"Thanks for asking, we will look into case {i} today." + " Sorry." * (i % 4) for i in range(40)]
    outs[4] = "thanks for asking, we will look into it today"  # lower case, no full stop
    outs[14] = "Merci pour votre message, nous allons vérifier avec le service et nous vous répondons."
    outs[24] = "Thanks. " + "We checked every step of the order and the delivery in detail. " * 12
    ctx = _ctx(tmp_path, [(_q(i), o) for i, o in enumerate(outs)], "text")
    c = consistency.run(ctx)
    assert c.status == "warn"
    messages = {ev.message: ev.lines for ev in c.evidence}
    assert messages["output language differs"] == [15]
    assert messages["output far longer or shorter than the rest"] == [25]
    assert sorted(n for ev in c.evidence for n in ev.lines) == [5, 5, 15, 25]  # casing and ending on line 5


def test_edge_case_shares_point_at_their_lines(tmp_path: Path) -> None:
    pairs = [(_q(i), "ok") for i in range(30)]
    pairs[3] = ("see https://example.com/order please", "ok")
    pairs[7] = ("??", "ok")
    pairs[11] = ("Hola, ¿dónde está mi pedido? Lo necesito para el lunes por favor", "ok")
    cov = coverage.run(_ctx(tmp_path, pairs, "text"))
    assert cov.status == "pass"
    ev = {e.message.split(":")[1].strip(): e.lines for e in cov.evidence}
    assert ev["URLs"] == [4] and ev["near-empty"] == [8] and ev["non-English"] == [12]
    assert len(ev["numbers"]) == 30 - 3  # every templated question carries its order number


@pytest.mark.skipif(token_counter().exact is False, reason="the SmolLM2 tokenizer is not converted here")
def test_big_files_count_a_sample_but_list_every_over_limit_example_exactly(tmp_path: Path) -> None:
    pairs = [(_q(i) + " " + "please help " * (i % 7), "Sure, we will check.") for i in range(300)]
    for k in (50, 150, 250):
        pairs[k] = (pairs[k][0] + " parcel" * (210 + k // 10), "Sure, we will check.")  # over 200 tokens
    pairs[100] = ("é" * 100, "Sure.")  # over the limit in bytes, not in tokens: counted exactly, not listed
    exact_ctx = _ctx(tmp_path, pairs, "text", config=AuditConfig(max_example_tokens=200))
    sampled_ctx = AuditContext(data=exact_ctx.data, kind="text", use_embeddings=False,
                               config=AuditConfig(max_example_tokens=200, exact_tokens_up_to=100))
    ex, sa = size.run(exact_ctx), size.run(sampled_ctx)
    assert ex.metrics["tokens"]["exact"] and ex.metrics["tokens"]["counting"] == "every example"
    t = sa.metrics["tokens"]
    assert not t["exact"] and "estimated" in t["counting"] and "estimated" in sa.reason
    assert _lines(sa) == _lines(ex) == {51, 151, 251}
    assert sa.evidence == ex.evidence  # the same lines, counts and examples
    lo, hi = t["total_interval_95"]
    assert lo <= ex.metrics["tokens"]["total"] <= hi
    assert abs(t["total"] - ex.metrics["tokens"]["total"]) / ex.metrics["tokens"]["total"] < 0.05
    assert 0 < t["counted_examples"] < 300


@pytest.mark.parametrize("text", [
    '{"a": NaN, "b": Infinity}',            # the stdlib's extensions, which orjson refuses
    '{"n": 123456789012345678901234567890}',  # an integer over 64 bits
    '{"s": "\\ud800"}',                       # a lone surrogate escape
    "[" * 1100 + "]" * 1100,                   # deeper than orjson's 1024 levels
    '{"a": 1, "a": 2}',                        # duplicate keys: the last one wins in both
    ' {"x": [1.5e300, -0.0, "\\u00e9"]} ',
])
def test_fast_json_path_gives_the_stdlib_result(text: str) -> None:
    from tuneworth.audit.reader import _loads

    try:
        expected: Any = json.loads(text)
    except RecursionError:
        with pytest.raises(RecursionError):
            _loads(text)
        return
    got = _loads(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("text", ['{"a": 1,}', '{"a" 1}', '{"a": "x', "nul\x00l", "[1, 2"])
def test_fast_json_path_reports_the_stdlib_error(text: str) -> None:
    from tuneworth.audit.reader import _loads

    with pytest.raises(json.JSONDecodeError) as ours:
        _loads(text)
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(text)
    assert (ours.value.msg, ours.value.colno) == (stdlib.value.msg, stdlib.value.colno)
