"""The one chat parser: every caller (loader, fine-tuning reader, audit, upload check) agrees on a record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneworth.audit.reader import read_dataset
from tuneworth.data.chat import ROLES, parse_chat, read_chat_jsonl
from tuneworth.data.formats import load_examples
from tuneworth.errors import DatasetError
from tuneworth.serve.validate import FileFormatError, validate_chat_jsonl


def _msgs(*pairs: tuple[str, object], **extra: object) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in pairs], **extra})


# (record, valid as a training conversation, valid as an evaluation example)
CASES = [
    (_msgs(("user", "q"), ("assistant", "a")), True, True),
    (_msgs(("system", "s"), ("user", "q"), ("assistant", "a")), True, True),
    (_msgs(("user", [{"type": "text", "text": "q"}]), ("assistant", "a")), True, True),
    (_msgs(("user", "q"), ("tool", "t"), ("user", "q2"), ("assistant", "a")), True, True),
    (_msgs(("user", "q"), ("assistant", "a"), ("user", "more")), True, False),  # last is not the answer
    (_msgs(("user", "q"), ("system", "late"), ("assistant", "a")), True, False),  # system mid-way
    (_msgs(("user", "q")), False, False),
    (_msgs(("user", "q"), ("assistant", "")), False, False),
    (_msgs(("robot", "q"), ("assistant", "a")), False, False),
    (_msgs(("user", 5), ("assistant", "a")), False, False),
    (_msgs(("user", [{"type": "image_url", "image_url": {}}]), ("assistant", "a")), False, False),
    (_msgs(("user", "q"), ("assistant", "a"), extra=1), False, False),
    (json.dumps({"messages": [{"role": "user", "content": "q", "mood": 1}, {"role": "assistant", "content": "a"}]}), False, False),
    (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]}), False, False),
    (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]}), False, True),  # weight is for training only
    (json.dumps({"messages": []}), False, False),
]


def _loader_ok(tmp_path: Path, line: str) -> bool:
    p = tmp_path / "d.jsonl"
    p.write_text(line + "\n", encoding="utf-8")
    try:
        load_examples(p)
    except DatasetError as e:
        assert f"{p}:1" in str(e)
        return False
    return True


def _finetune_ok(tmp_path: Path, line: str) -> bool:
    p = tmp_path / "t.jsonl"
    p.write_text(line + "\n", encoding="utf-8")
    try:
        read_chat_jsonl(p)
    except DatasetError as e:
        assert f"{p}:1" in str(e)
        return False
    return True


def _upload_ok(line: str) -> bool:
    try:
        validate_chat_jsonl(line.encode())
    except FileFormatError as e:
        assert "Example 1 (line 1)" in str(e)
        return False
    return True


def _audit_ok(tmp_path: Path, line: str) -> bool:
    p = tmp_path / "a.jsonl"
    p.write_text(line + "\n", encoding="utf-8")
    ds = read_dataset(p)
    return bool(ds.records) and not any(pr.severity == "error" for pr in ds.problems)


@pytest.mark.parametrize(("line", "trainable", "example"), CASES)
def test_every_caller_gives_the_same_verdict(tmp_path: Path, line: str, trainable: bool, example: bool) -> None:
    assert _finetune_ok(tmp_path, line) is trainable
    assert _upload_ok(line) is trainable
    assert _loader_ok(tmp_path, line) is example
    assert _audit_ok(tmp_path, line) is example


def test_one_role_set_and_problems_carry_a_kind_and_a_fix() -> None:
    assert set(ROLES) == {"system", "developer", "user", "assistant", "tool", "function"}
    conv, probs = parse_chat({"messages": [{"role": "user", "content": "q", "x": 1}, {"role": "bot", "content": 1}]})
    assert conv is None
    assert [p.kind for p in probs] == ["unknown_message_key", "unknown_role"]
    assert all(p.hint for p in probs)


def test_tool_call_without_content_and_text_parts_are_kept() -> None:
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]}
    conv, probs = parse_chat(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, call,
                      {"role": "tool", "content": "r"}, {"role": "assistant", "content": "done"}]},
        for_training=True,
    )
    assert probs == [] and conv is not None
    assert [(m.role, m.content) for m in conv.messages] == [("user", "ab"), ("assistant", ""), ("tool", "r"), ("assistant", "done")]
