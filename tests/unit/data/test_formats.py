from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneworth.data.formats import load_examples
from tuneworth.errors import DatasetError


def test_chat_jsonl_with_system_and_history(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": [{"type": "text", "text": "q"}]},
                    {"role": "assistant", "content": "ans"},
                ]
            }
        )
        + "\n\n",
        encoding="utf-8",
    )
    [ex] = load_examples(p)
    assert (ex.system, ex.input, ex.output, ex.history) == (
        "S",
        "q",
        "ans",
        (("user", "a"), ("assistant", "b")),
    )
    assert ex.source.endswith("d.jsonl:1")


def test_prompt_completion_and_csv(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "x", "completion": "y"}\n', encoding="utf-8")
    assert load_examples(p)[0].output == "y"
    c = tmp_path / "d.csv"
    c.write_text('input,output\n"hello, there",greet\nbye,farewell\n', encoding="utf-8")
    exs = load_examples(c)
    assert [e.input for e in exs] == ["hello, there", "bye"]
    assert exs[1].id == "d.csv:3"


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"messages": []}', "non-empty list"),
        ('{"messages": [{"role": "user"}]}', "has no 'content'"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "unknown role 'robot'"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "last message must be the assistant"),
        (
            '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": " "}]}',
            "answer is empty",
        ),
        (
            '{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]}',
            "must be a string",
        ),
        (
            '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "extra": 1}',
            "unknown key",
        ),
        ('{"prompt": "x"}', "'completion' must be a non-empty string"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, needle: str) -> None:
    p = tmp_path / "bad.jsonl"
    good = '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}'
    if line.startswith('{"prompt"'):
        good = '{"prompt": "a", "completion": "b"}'
    p.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_examples(p)
    assert f"{p}:2" in str(err.value)
    assert needle in str(err.value)


def test_csv_errors(tmp_path: Path) -> None:
    c = tmp_path / "d.csv"
    c.write_text("question,x\nq,1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no input/output columns"):
        load_examples(c)
    c.write_text("input,output\na,b,c\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"d\.csv:2: has 3 fields"):
        load_examples(c)


def test_empty_missing_and_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_examples(tmp_path / "nope.jsonl")
    (tmp_path / "e.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no examples"):
        load_examples(tmp_path / "e.jsonl")
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="unsupported file type"):
        load_examples(tmp_path / "x.parquet")
    (tmp_path / "b.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_examples(tmp_path / "b.jsonl")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["messages", "role", "content", "prompt", "completion", "x"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.text(max_size=40), _json_values.map(json.dumps)), min_size=1, max_size=5))
def test_fuzz_jsonl_never_tracebacks(tmp_path: Path, lines: list[str]) -> None:
    p = tmp_path / "f.jsonl"
    p.write_text("\n".join(lines), encoding="utf-8")
    try:
        exs = load_examples(p)
    except DatasetError as e:
        assert str(p) in str(e)
    else:
        assert all(ex.input.strip() and ex.output.strip() for ex in exs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list('ab,"\n\r x')), max_size=60))
def test_fuzz_csv_never_tracebacks(tmp_path: Path, text: str) -> None:
    p = tmp_path / "f.csv"
    p.write_text("input,output\n" + text, encoding="utf-8")
    try:
        load_examples(p)
    except DatasetError as e:
        assert str(p) in str(e)
