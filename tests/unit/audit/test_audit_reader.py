"""The tolerant reader and the format check: every problem with its line; bad bytes never crash (fuzzed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tuneworth.audit import audit
from tuneworth.audit.reader import MAX_LINE_BYTES, read_dataset


def chat(user: str, answer: str, **extra: object) -> str:
    msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": msgs, **extra})


GOOD = chat("hello there", "hi")


def kinds(path: Path, **kw: bool) -> list[tuple[str, int | None]]:
    ds = read_dataset(path, **kw)
    return [(p.kind, p.line) for p in ds.problems]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("not json", "not_json"),
        ("[1, 2]", "not_object"),
        ('{"foo": 1}', "unknown_shape"),
        ('{"messages": "x"}', "messages_not_list"),
        ('{"messages": []}', "empty_messages"),
        ('{"messages": [5, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}', "message_not_object"),
        ('{"messages": [{"content": "q"}, {"role": "assistant", "content": "a"}]}', "missing_role"),
        ('{"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}', "missing_content"),
        ('{"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]}', "unknown_role"),
        ('{"messages": [{"role": "user", "content": "q"}]}', "no_assistant"),
        ('{"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}', "last_not_assistant"),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]}', "empty_content"),
        ('{"messages": [{"role": "user", "content": 7}, {"role": "assistant", "content": "a"}]}', "content_type"),
        ('{"messages": [{"role": "user", "content": "q", "mood": 1}, {"role": "assistant", "content": "a"}]}', "unknown_message_key"),
        (chat("q", "a", extra=1), "unknown_key"),
        ('{"prompt": "q", "completion": "a"}', "mixed_format"),
    ],
)
def test_each_chat_rule_names_its_line(tmp_path: Path, line: str, kind: str) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(f"{GOOD}\n{line}\n{GOOD}\n", encoding="utf-8")
    ds = read_dataset(p)
    assert (kind, 2) in [(pr.kind, pr.line) for pr in ds.problems]
    assert [r.line for r in ds.records] == [1, 3]  # the bad line never hides the next


def test_every_problem_is_collected_not_just_the_first(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(
        "\n".join([GOOD, "nope", '{"messages": [{"role": "robot", "content": 1}]}', GOOD, "[]"]) + "\n",
        encoding="utf-8",
    )
    report = audit(p, checks=["format"], embeddings=False)
    fmt = report.check("format")
    assert fmt.status == "fail"
    assert fmt.metrics["bad_lines"] == 3 and fmt.metrics["usable"] == 2
    lines = sorted({n for ev in fmt.evidence for n in ev.lines})
    assert lines == [2, 3, 5]
    assert "not_json" in fmt.reason and "unknown_role" in fmt.reason


def test_prompt_completion_and_csv(tmp_path: Path) -> None:
    p = tmp_path / "pc.jsonl"
    p.write_text('{"prompt": "q", "completion": "a"}\n{"prompt": "", "completion": "a"}\n{"prompt": "q", "completion": 3}\n{"prompt": "q"}\n', encoding="utf-8")
    assert kinds(p) == [("empty_field", 2), ("wrong_type", 3), ("missing_field", 4)]
    c = tmp_path / "d.csv"
    c.write_text('input,output\n"multi\nline, quoted",a\nonly-one-field\n,empty input\nx,y\n', encoding="utf-8")
    ds = read_dataset(c)
    assert [(pr.kind, pr.line) for pr in ds.problems] == [("csv_fields", 4), ("empty_field", 5)]
    assert [r.line for r in ds.records] == [2, 6]
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("a,b\n1,2\n", encoding="utf-8")
    assert not read_dataset(bad_header).readable


def test_bad_bytes_each_reported_with_its_line(tmp_path: Path) -> None:
    good = GOOD.encode()
    cases: dict[str, tuple[bytes, str, int | None]] = {
        "utf8": (good + b"\n" + good[:20] + b"\xff\xfe" + good[22:] + b"\n", "invalid_utf8", 2),
        "nul": (good + b"\n" + good + b"\n" + good.replace(b"hello", b"hel\x00lo") + b"\n", "nul_bytes", 3),
        "truncated": (good + b"\n" + good[:30], "truncated_last_line", 2),
        "array": (b"[" + good + b",\n" + good + b"]\n", "json_array", 1),
        "pretty": (json.dumps(json.loads(GOOD), indent=2).encode() + b"\n", "pretty_printed", 1),
        "empty": (b"", "empty_file", None),
        "blank": (b"\n \n\t\n", "empty_file", None),
        "binary": (bytes(range(256)) * 40, "binary", 1),
        "gzip": (b"\x1f\x8b\x08\x00" + b"\x00" * 50, "binary", 1),
        "utf16": (GOOD.encode("utf-16"), "utf16", 1),
        "deep": (good + b"\n" + b"[" * 200000 + b"]" * 200000 + b"\n", "too_deep", 2),
    }
    for name, (data, kind, line) in cases.items():
        p = tmp_path / f"{name}.jsonl"
        p.write_bytes(data)
        assert (kind, line) in kinds(p), name


def test_bom_and_crlf_are_read_and_noted(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + (GOOD + "\r\n").encode() * 3)
    ds = read_dataset(p)
    assert len(ds.records) == 3
    assert [(pr.kind, pr.line, pr.severity) for pr in ds.problems] == [("bom", 1, "warning"), ("crlf", 1, "info")]


def test_a_50_mb_line_is_reported_not_parsed(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    big = chat("x" * (50 * 1024 * 1024), "a")
    assert len(big) > MAX_LINE_BYTES
    p.write_text(f"{GOOD}\n{big}\n{GOOD}\n", encoding="utf-8")
    ds = read_dataset(p)
    assert [(pr.kind, pr.line) for pr in ds.problems] == [("line_too_long", 2)]
    assert "50.0 MB" in ds.problems[0].message or "52.4 MB" in ds.problems[0].message
    assert [r.line for r in ds.records] == [1, 3]


def test_production_txt_and_inputs_only(tmp_path: Path) -> None:
    p = tmp_path / "q.txt"
    p.write_text("where is my order\n\nrefund please\n", encoding="utf-8")
    ds = read_dataset(p, require_output=False)
    assert [(r.line, r.example.input) for r in ds.records] == [(1, "where is my order"), (3, "refund please")]
    j = tmp_path / "q.jsonl"
    j.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    assert len(read_dataset(j, require_output=False).records) == 1


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(chunks=[b'{"messages":[{"":null,"role":[]}]}'], suffix=".jsonl")  # found by this test: unhashable role
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60),
            st.sampled_from([GOOD.encode(), b"\xef\xbb\xbf", b"\r", b"\x00", b"[", b"{", b'{"messages": [', b"\xff"]),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["messages", "role", "content", "prompt", "x"]), c, max_size=3),
                max_leaves=12,
            ).map(lambda v: json.dumps(v).encode()),
        ),
        max_size=8,
    ),
    st.sampled_from([".jsonl", ".csv", ".txt"]),
)
def test_fuzzed_bytes_never_raise(tmp_path: Path, chunks: list[bytes], suffix: str) -> None:
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(b"\n".join(chunks))
    ds = read_dataset(p, require_output=suffix != ".txt")
    for pr in ds.problems:
        assert pr.line is None or 1 <= pr.line <= max(1, ds.n_lines)
    if not ds.readable:
        assert any(pr.severity == "error" for pr in ds.problems)
    report = audit(p, checks=["format", "size"], embeddings=False)
    assert report.check("format").status in ("pass", "warn", "fail")


def tw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuneworth", *args], capture_output=True, text=True)


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("".join(chat(f"question number {i}", "yes" if i % 2 else "no") + "\n" for i in range(60)), encoding="utf-8")
    res = tw("audit", str(good), "--json", "--no-embeddings")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["checks"][0]["name"] == "format" and d["checks"][0]["status"] == "pass"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(GOOD + "\n" + "{oops\n", encoding="utf-8")
    res = tw("audit", str(bad), "--no-embeddings")
    assert res.returncode == 0 and "bad.jsonl:2" in res.stdout and "FAIL" in res.stdout
    assert tw("audit", str(bad), "--strict", "--no-embeddings").returncode == 1
    arr = tmp_path / "arr.jsonl"
    arr.write_text("[" + GOOD + "]", encoding="utf-8")
    res = tw("audit", str(arr))
    assert res.returncode == 2 and "JSON array" in res.stderr and "Traceback" not in res.stderr
    res = tw("audit", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "file not found" in res.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.text(max_size=40), st.one_of(st.text(min_size=1, max_size=20), json_values.map(json.dumps)), st.sampled_from([None, "S", "T"])),
        min_size=1,
        max_size=30,
    )
)
def test_fuzzed_valid_records_never_crash_any_cheap_check(tmp_path: Path, rows: list[tuple[str, str, str | None]]) -> None:
    p = tmp_path / "fuzz.jsonl"
    with p.open("w", encoding="utf-8") as f:
        for user, answer, system in rows:
            msgs = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    report = audit(p, embeddings=False)
    assert len(report.checks) == 9
    for c in report.checks:
        assert c.status in ("pass", "warn", "fail", "skip") and c.reason
