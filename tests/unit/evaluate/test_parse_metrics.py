from __future__ import annotations

import jsonschema

from tuneworth.evaluate.metrics import score_json, score_label, score_text
from tuneworth.evaluate.parse import extract_final, parse_answer, parse_json, parse_label

LABELS = ["positive", "negative", "neutral"]
SCHEMA = {
    "type": "object",
    "properties": {"a": {"enum": ["x", "y"]}, "b": {"enum": ["p", "q"]}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


def test_label_parsing() -> None:
    assert parse_label("Positive.", LABELS).value == "positive"
    assert parse_label("negative - the user is angry", LABELS).value == "negative"
    assert parse_label("I think this is neutral overall", LABELS).value == "neutral"
    amb = parse_label("not positive, rather negative", LABELS)
    assert not amb.ok and "ambiguous" in amb.reason
    assert not parse_label("hello there", LABELS).ok


def test_json_extraction() -> None:
    assert parse_json('Sure! ```json\n{"a": "x"}\n``` hope it helps').value == {"a": "x"}
    assert parse_json('prefix {"a": "{x}", "b": "p"} suffix').value == {"a": "{x}", "b": "p"}
    assert not parse_json('{"a": ').ok
    assert not parse_json("no json here").ok


def test_cot_final_answer_is_parsed_after_marker() -> None:
    text = "The user mentions a refund, so negative.\nAnswer: negative"
    assert extract_final(text) == "negative"
    assert parse_answer(text, "label", LABELS, cot=True).value == "negative"
    # Without the marker the reasoning's mention of two labels would be ambiguous.
    assert not parse_answer("Is it positive? I say negative", "label", LABELS, cot=False).ok
    js = 'Reasoning {"a": "y"} is wrong.\nAnswer: {"a": "x", "b": "q"}'
    assert parse_answer(js, "json", cot=True).value == {"a": "x", "b": "q"}


def test_json_metrics() -> None:
    v = jsonschema.Draft202012Validator(SCHEMA)
    gold = {"a": "x", "b": "p"}
    s = score_json(parse_json('{"a": "X", "b": "q"}'), gold, "field_accuracy", v)
    assert s.value == 0.5 and not s.valid  # "X" normalizes to x for matching but violates the enum
    assert s.details["fields"] == {"a": True, "b": False}
    s = score_json(parse_json('{"a": "x", "b": "p"}'), gold, "object_match", v)
    assert s.value == 1.0 and s.valid
    s = score_json(parse_json("nope"), gold, "field_accuracy", v)
    assert s.value == 0.0 and not s.valid and s.details["parsed"] is False


def test_label_and_text_metrics() -> None:
    assert score_label(parse_label("Negative", LABELS), "negative", LABELS).value == 1.0
    bad = score_label(parse_label("meh", LABELS), "negative", LABELS)
    assert bad.value == 0.0 and bad.details["unparseable"]
    t = score_text(parse_answer(" Paris. ", "text"), " Paris. ", "paris", "normalized")
    assert t.value == 1.0 and t.details["exact"] is False


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('{}[]":,ab \\\nAnswer:positive')), max_size=80),
    cot=st.booleans(),
)
def test_fuzz_parsers_never_raise(text: str, cot: bool) -> None:
    for kind in ("text", "label", "json"):
        parsed = parse_answer(text, kind, LABELS, cot=cot)
        assert parsed.ok or parsed.reason or kind == "text"
        if kind == "json" and parsed.ok:
            assert isinstance(parsed.value, dict)
