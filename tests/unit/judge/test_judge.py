"""The LLM judge with scripted fake judges: parsing, position swapping, ties, unparseable
judgements, calibration against people, bad input caught before any model call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.errors import ConfigError, DatasetError, ProviderError
from tuneworth.judge.judge import Judge, parse_pairwise, parse_pointwise
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.record.store import sections_dict
from tuneworth.run.climb import climb

RUBRIC = """Judge the house voice: warm, brief, signed "- Pip".
5: every fact right and in the house voice
4: right, voice mostly there
3: right but generic
2: partly wrong
1: wrong or rude"""

QUESTIONS = [(f"Where is order {i}?", f"Order {i} ships {'Monday' if i % 2 else 'Friday'}. - Pip") for i in range(40)]


def write_text_task(d: Path, *, judge: str = "", extra: str = "") -> Path:
    with (d / "data.jsonl").open("w") as f:
        for q, a in QUESTIONS:
            f.write(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n")
    (d / "rubric.md").write_text(RUBRIC)
    (d / "tuneworth.toml").write_text(
        f"""
name = "voice"
metric = "judge"
{extra}
[data]
path = "data.jsonl"
validation_size = 6
test_size = 10
[model]
name = "fake/echo"
[rungs.L1]
variants = ["base", "rules"]
[rungs.L2]
k = [1]
selection = ["random"]
[scoring]
pass_threshold = 0.75
record = ["token_f1", "rouge_l"]
[judge]
rubric_file = "rubric.md"
{judge}
"""
    )
    return d


def _user(r: ChatRequest) -> str:
    return r.messages[-1]["content"]


def _answer(prompt: str) -> str:
    return prompt.split("ANSWER:\n", 1)[1]


def _reference(prompt: str) -> str:
    return prompt.split("REFERENCE:\n", 1)[1].split("\n\nANSWER:")[0]


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Score: 4\nReason: warm and right", 4),
        ("**Score:** 5", 5),
        ("score = 2 because it is wrong", 2),
        ("I would give this 3/5.", 3),
        ("5\nIt is perfect", 5),
        ("Score: 7", None),
        ("The answer is fine.", None),
        ("", None),
    ],
)
def test_parse_pointwise(text: str, want: int | None) -> None:
    assert parse_pointwise(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Winner: A\nReason: shorter", "A"),
        ("winner: b", "B"),
        ("Winner: tie", "tie"),
        ("Winner: a tie, both are fine", "tie"),
        ("Response B is better.", "B"),
        ("A", "A"),
        ("It's hard to say.", None),
    ],
)
def test_parse_pairwise(text: str, want: str | None) -> None:
    assert parse_pairwise(text) == want


@given(st.text(max_size=200))
def test_parsers_never_raise_and_stay_in_range(text: str) -> None:
    assert parse_pointwise(text) in (None, 1, 2, 3, 4, 5)
    assert parse_pairwise(text) in (None, "A", "B", "tie")


# ---------------------------------------------------------------- swapping, ties, unparseable


def _judge(responder, mode: str = "pairwise", swap: bool = True) -> Judge:  # type: ignore[no-untyped-def]
    return Judge(Model(FakeProvider(responder)), RUBRIC, mode=mode, swap=swap)


def test_position_bias_is_cancelled_by_swapping_on_identical_answers() -> None:
    items = [(q, a, a) for q, a in QUESTIONS[:10]]  # answer and reference identical
    always_first = lambda r: "Winner: A"  # noqa: E731  a judge that only follows the position
    unswapped = _judge(always_first, swap=False).judge_many(items)
    swapped = _judge(always_first, swap=True).judge_many(items)
    assert [j.value for j in unswapped] == [1.0] * 10  # without swapping, order decides
    assert [j.value for j in swapped] == [0.5] * 10  # with swapping, identical answers score even
    assert all(j.position_flip and len(j.prompts) == 2 for j in swapped)
    # The two prompts really are the two orders.
    j = swapped[0]
    assert j.prompts[0] != j.prompts[1] or items[0][1] == items[0][2]


def test_swapping_keeps_a_real_preference() -> None:
    def prefers_reference(r: ChatRequest) -> str:
        u = _user(r)
        a = u.split("RESPONSE A:\n")[1].split("\n\nRESPONSE B:")[0]
        return "Winner: A" if "Pip" in a else "Winner: B"

    out = _judge(prefers_reference).judge_many([("q?", "no idea", "Ships Monday. - Pip")])
    assert out[0].value == 0.0 and out[0].verdicts == ["B", "A"] and not out[0].position_flip


def test_ties_and_unparseable_are_counted_not_dropped() -> None:
    replies = iter(["Winner: tie", "Winner: tie", "mumble", "Winner: A", "???", "no"])
    judge = _judge(lambda r: next(replies))
    a, b, c = judge.judge_many([("q1", "x", "y"), ("q2", "x", "y"), ("q3", "x", "y")])
    assert a.value == 0.5 and a.ties == 2 and a.unparseable == 0
    # The parseable (swapped) order still counts: there A is the reference, so the answer lost.
    assert b.value == 0.0 and b.unparseable == 1 and b.verdicts == [None, "A"]
    assert c.value is None and c.unparseable == 2 and c.raw == ["???", "no"]


def test_pointwise_batches_every_item_in_one_call() -> None:
    provider = FakeProvider(lambda r: "Score: 4\nReason: ok")
    judge = Judge(Model(provider, batch_size=64), RUBRIC)
    out = judge.judge_many([(q, a, a) for q, a in QUESTIONS[:20]])
    assert provider.batches == [20] and all(j.value == 0.75 for j in out)
    assert RUBRIC in judge.system and "Score:" in judge.system


# ---------------------------------------------------------------- in a climb


def fair_judge(r: ChatRequest) -> str:
    """Pointwise: 5 when the answer equals the reference, 2 when it shares its first word, else 1."""
    u = _user(r)
    ans, ref = _answer(u), _reference(u)
    if ans == ref:
        return "Score: 5\nReason: matches"
    return "Score: 2\nReason: partly" if ans.split()[:1] == ref.split()[:1] else "Score: 1\nReason: wrong"


def test_climb_with_a_judge_records_prompts_verdicts_and_counts(tmp_path: Path) -> None:
    task = load_task(write_text_task(tmp_path))
    judge = Judge(Model(FakeProvider(fair_judge)), RUBRIC)
    result = climb(task, Model(FakeProvider(lambda r: "Order ships soon")), runs_dir=tmp_path / "runs", judge=judge)
    header, items, summary = load_record(result.run_dir)
    assert header["judge"]["rubric"] == RUBRIC and header["judge"]["mode"] == "pointwise"
    assert "RUBRIC" in header["judge"]["system_prompt"]
    test_items = [i for i in items if i["phase"] == "test"]
    for it in test_items:
        j = it["details"]["judge"]
        assert j["raw"] == ["Score: 2\nReason: partly"] and j["verdicts"] == [2]
        assert "ANSWER:\nOrder ships soon" in j["prompts"][0]
        assert it["score"] == 0.25 and it["details"]["pass"] is False
        assert {"token_f1", "rouge_l"} <= set(it["details"])
    assert summary is not None
    row = summary["rungs"][0]
    assert row["metric"] == "judge" and row["score"] == 0.25 and row["pass_rate"] == 0.0
    assert row["metrics"]["judge_unparseable"] == 0 and row["metrics"]["judged_items"] == 10
    assert row["model"] == "fake/custom"
    assert any("no human-labelled file" in w for w in summary["judge"]["warnings"])
    assert "warning" in (result.run_dir / "summary.md").read_text()


def test_unparseable_judgements_leave_items_unscored_and_counted(tmp_path: Path) -> None:
    task = load_task(write_text_task(tmp_path))
    judge = Judge(Model(FakeProvider(lambda r: "I like it")), RUBRIC)
    result = climb(task, Model(FakeProvider(lambda r: "hi")), runs_dir=tmp_path / "runs", rungs=["L1"], judge=judge)
    row = sections_dict(result.summary)["rungs"][0]
    assert row["n"] == 0 and row["score"] is None and row["errors"] == 0
    assert row["metrics"]["judge_unscored_items"] == 10 and row["metrics"]["judge_unparseable"] == 10


# ---------------------------------------------------------------- calibration


def _calibration(d: Path, task_dir: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    (d / "calibration.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _test_items(task_dir: Path) -> list[tuple[str, str]]:
    from tuneworth.run.climb import load_split

    split, _ = load_split(load_task(task_dir))
    return [(ex.input, ex.output) for ex in split.test]


def test_calibration_agreement_and_weak_warning(tmp_path: Path) -> None:
    write_text_task(tmp_path, judge='calibration = "calibration.jsonl"')
    tests = _test_items(tmp_path)
    rows = []
    for k, (inp, out) in enumerate(tests):
        answer = out if k % 3 == 0 else (out.split()[0] + " later" if k % 3 == 1 else "No.")
        rows.append({"input": inp, "output": answer, "human": 5 if k % 3 == 0 else (2 if k % 3 == 1 else 1)})
    _calibration(tmp_path, tmp_path, rows)
    task = load_task(tmp_path)
    good = Judge(Model(FakeProvider(fair_judge)), RUBRIC)
    result = climb(task, Model(FakeProvider(lambda r: "No.")), runs_dir=tmp_path / "r1", rungs=["L1"], judge=good)
    cal = sections_dict(result.summary)["judge"]["calibration"]
    assert cal["spearman"] == pytest.approx(1.0) and cal["kappa_quadratic"] == pytest.approx(1.0)
    assert cal["n"] == 10 and sections_dict(result.summary)["judge"]["warnings"] == []
    header, _, _ = load_record(result.run_dir)
    assert len(header["judge"]["calibration"]["items"]) == 10  # raw calibration judgements kept

    contrary = Judge(Model(FakeProvider(lambda r: "Score: 1" if _answer(_user(r)) == _reference(_user(r)) else "Score: 5")), RUBRIC)
    result = climb(task, Model(FakeProvider(lambda r: "No.")), runs_dir=tmp_path / "r2", rungs=["L1"], judge=contrary)
    warnings = sections_dict(result.summary)["judge"]["warnings"]
    assert sections_dict(result.summary)["judge"]["calibration"]["spearman"] < 0
    assert len(warnings) == 1 and "weak agreement" in warnings[0]
    assert "weak agreement" in (result.run_dir / "summary.md").read_text()
    # ... and the verdict itself says so (the CLI prints it; the report shows it first).
    verdict = sections_dict(result.summary)["decision"]["verdict"]
    assert "Warning: judge calibration: weak agreement" in verdict
    assert sections_dict(result.summary)["decision"]["warnings"] == warnings


def _pairwise_judge_by_first_word(r: ChatRequest) -> str:
    """Pairwise: the response that starts like "Order" wins; both do: tie."""
    u = _user(r)
    a = u.split("RESPONSE A:\n")[1].split("\n\nRESPONSE B:")[0]
    b = u.split("RESPONSE B:\n")[1]
    good_a, good_b = a.startswith("Order"), b.startswith("Order")
    return "Winner: tie" if good_a == good_b else "Winner: A" if good_a else "Winner: B"


def test_pairwise_calibration_on_human_preferences_reports_kappa(tmp_path: Path) -> None:
    """Preferences (better/tie/worse) against the judge's: Cohen's kappa, checked against scikit-learn."""
    metrics = pytest.importorskip("sklearn.metrics")
    from tuneworth.judge.calibration import calibrate, load_calibration

    write_text_task(tmp_path, judge='mode = "pairwise"\ncalibration = "calibration.jsonl"')
    tests = _test_items(tmp_path)
    # The judge says tie (both start with "Order") or worse ("Nope"); people disagree on some items.
    answers = ["Order soon", "Nope", "Order soon", "Nope", "Nope", "Order soon", "Nope", "Order soon", "Nope", "Order soon"]
    human = ["tie", "worse", "better", "worse", "tie", "tie", "worse", "worse", "worse", "tie"]
    _calibration(tmp_path, tmp_path, [{"input": q, "output": a, "human": h} for (q, _), a, h in zip(tests, answers, human, strict=True)])
    task = load_task(tmp_path)
    labels = load_calibration(task.resolve("calibration.jsonl"), [ex for ex in _split_test(tmp_path)], mode="pairwise")
    judge = Judge(Model(FakeProvider(_pairwise_judge_by_first_word)), RUBRIC, mode="pairwise")
    out = calibrate(judge, labels, min_agreement=0.5, seed=3)
    judged = ["tie" if a.startswith("Order") else "worse" for a in answers]
    want = metrics.cohen_kappa_score(human, judged)
    assert out["kappa"] == pytest.approx(want, abs=1e-4) and out["human_scale"] == "preference"
    # Hand-computed: agree on 7 of 10 (po 0.7); human worse 5, tie 4, better 1; judge tie 5, worse 5:
    # pe = (5*5 + 4*5) / 100 = 0.45; kappa = (0.7 - 0.45) / 0.55 = 0.4545.
    assert out["kappa"] == pytest.approx(0.25 / 0.55, abs=1e-4)
    lo, hi = out["kappa_ci"]
    assert -1 <= lo < out["kappa"] < hi <= 1
    assert "Cohen's kappa 0.45" in out["warning"] and "weak agreement" in out["warning"]
    # In a climb the record carries it, and the summary prints it.
    result = climb(task, Model(FakeProvider(lambda r: "Order soon")), runs_dir=tmp_path / "runs", rungs=["L1"], judge=judge)
    assert sections_dict(result.summary)["judge"]["calibration"]["kappa"] == out["kappa"]
    assert "kappa 0.45" in (result.run_dir / "summary.md").read_text()


def _split_test(task_dir: Path) -> list:  # type: ignore[type-arg]
    from tuneworth.run.climb import load_split

    split, _ = load_split(load_task(task_dir))
    return split.test


def test_preference_labels_are_checked(tmp_path: Path) -> None:
    from tuneworth.judge.calibration import load_calibration

    write_text_task(tmp_path)
    (q, _), (q2, _) = _test_items(tmp_path)[:2]
    test = _split_test(tmp_path)
    path = tmp_path / "calibration.jsonl"
    _calibration(tmp_path, tmp_path, [{"input": q, "output": "x", "human": "better"}])
    with pytest.raises(DatasetError, match=r"calibration.jsonl:1: human score 'better' is not an integer from 1 to 5"):
        load_calibration(path, test)  # preferences calibrate pairwise judges only
    _calibration(tmp_path, tmp_path, [{"input": q, "output": "x", "human": "best"}])
    with pytest.raises(DatasetError, match="'best' is not one of better, tie, worse"):
        load_calibration(path, test, mode="pairwise")
    _calibration(tmp_path, tmp_path, [{"input": q, "output": "x", "human": "tie"}, {"input": q2, "output": "y", "human": 4}])
    with pytest.raises(DatasetError, match=r":2: the calibration file mixes 1-5 scores and preferences"):
        load_calibration(path, test, mode="pairwise")


# ---------------------------------------------------------------- bad input, before any call


def _no_calls_made(task_dir: Path, exc: type[Exception], match: str) -> None:
    task = load_task(task_dir)
    calls = FakeProvider(lambda r: "x")
    jp = FakeProvider(lambda r: "Score: 3")
    with pytest.raises(exc, match=match):
        climb(task, Model(calls), runs_dir=task_dir / "runs", judge=Judge(Model(jp), RUBRIC))
    assert calls.calls == 0 and jp.calls == 0 and not (task_dir / "runs").exists()


def test_empty_rubric_and_rubric_without_scale(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write_text_task(tmp_path / "a")
    (tmp_path / "a" / "rubric.md").write_text("   \n")
    with pytest.raises(ConfigError, match="rubric is empty"):
        load_task(tmp_path / "a")
    (tmp_path / "a" / "rubric.md").write_text("Be warm and brief and sign as Pip.")
    with pytest.raises(ConfigError, match=r"no 1-5 scale \(no line for score 1, 2, 3, 4, 5\)"):
        load_task(tmp_path / "a")
    (tmp_path / "a" / "rubric.md").write_text("Be warm.\n5: great\n4: good\n1: bad")
    with pytest.raises(ConfigError, match="no line for score 2, 3"):
        load_task(tmp_path / "a")
    (tmp_path / "b").mkdir()
    write_text_task(tmp_path / "b", judge='mode = "pairwise"')
    (tmp_path / "b" / "rubric.md").write_text("Prefer the warmer answer.")
    assert load_task(tmp_path / "b").judge.mode == "pairwise"  # pairwise needs no 1-5 scale


def test_calibration_items_not_in_the_test_set(tmp_path: Path) -> None:
    write_text_task(tmp_path, judge='calibration = "calibration.jsonl"')
    tests = _test_items(tmp_path)
    train_only = next(q for q, _ in QUESTIONS if q not in {t for t, _ in tests})
    _calibration(tmp_path, tmp_path, [{"input": tests[0][0], "output": "x", "human": 3},
                                      {"input": train_only, "output": "x", "human": 3}])
    _no_calls_made(tmp_path, DatasetError, r"calibration.jsonl:2: item .* is not in the test set")
    _calibration(tmp_path, tmp_path, [{"input": tests[0][0], "output": "x", "human": 9}])
    _no_calls_made(tmp_path, DatasetError, r"calibration.jsonl:1: human score 9 is not an integer from 1 to 5")


def test_unreachable_judge_fails_before_any_call(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    write_text_task(tmp_path, judge='[judge.model]\nname = "openai/judge"\nbase_url = "http://127.0.0.1:9/v1"\ntimeout = 2')
    task = load_task(tmp_path)
    calls = FakeProvider(lambda r: "x")
    with pytest.raises(ProviderError, match=re.escape("judge model openai/judge@http://127.0.0.1:9/v1 cannot be reached")):
        climb(task, Model(calls), runs_dir=tmp_path / "runs")
    assert calls.calls == 0 and not (tmp_path / "runs").exists()


def test_cli_reports_bad_rubric_without_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_text_task(tmp_path)
    (tmp_path / "rubric.md").write_text("")
    out = subprocess.run([sys.executable, "-m", "tuneworth", "validate", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "rubric.md: the rubric is empty" in out.stderr and "Traceback" not in out.stderr


def test_cli_climb_with_a_registry_judge_and_per_rung_model(tmp_path: Path) -> None:
    """The whole path from the task file: judge and per-rung models resolved by name, table, report."""
    import subprocess
    import sys

    write_text_task(
        tmp_path,
        judge='[judge.model]\nname = "fake/constant:Score: 4\\nReason: fine"',
        extra="",
    )
    toml = (tmp_path / "tuneworth.toml").read_text().replace(
        'name = "fake/echo"', 'name = "fake/echo"\nrungs = { L2 = "fake/constant:Order 1 ships Monday. - Pip" }'
    )
    (tmp_path / "tuneworth.toml").write_text(toml)
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "tuneworth", "climb", str(tmp_path), "--out", str(run), "--no-cache"],
        capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "a model per rung" in res.stdout and "fake/echo" in res.stdout  # a model column
    assert "warning: judge calibration: no human-labelled file" in res.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert [r["score"] for r in summary["rungs"]] == [0.75, 0.75, 0.75]  # L1, L2, L3 (dynamic few-shot)
    assert summary["models"] == {
        "L1": "fake/echo", "L2": "fake/constant:Order 1 ships Monday. - Pip", "L3": "fake/echo"
    }
    assert summary["judge"]["model"] == "fake/constant:Score: 4\nReason: fine"
    rep = subprocess.run([sys.executable, "-m", "tuneworth", "report", str(run)], capture_output=True, text=True)
    assert rep.returncode == 0 and "judge" in rep.stdout


def test_constant_judge_has_undefined_agreement() -> None:
    from tuneworth.judge.calibration import HumanLabel, calibrate

    labels = [HumanLabel(k + 1, f"q{k}", f"a{k}", 1 + k % 5, f"r{k}") for k in range(12)]
    out = calibrate(Judge(Model(FakeProvider(lambda r: "Score: 4")), RUBRIC), labels, min_agreement=0.5, seed=0)
    assert out["spearman"] is None and out["scored"] == 12
    assert "gave every item the same score" in out["warning"]
    out = calibrate(Judge(Model(FakeProvider(lambda r: "dunno")), RUBRIC), labels, min_agreement=0.5, seed=0)
    assert out["unparseable"] == 12 and "only 0 of 12 judgements could be parsed" in out["warning"]


def test_judge_decoding_from_the_task_file(tmp_path: Path) -> None:
    """judge.decoding forces label scoring (or text) whatever the judge's provider; auto picks by provider."""
    from tuneworth.judge.setup import prepare_judge
    from tuneworth.run.climb import load_split

    write_text_task(tmp_path, judge='decoding = "choice"\n[judge.model]\nname = "fake/constant:3"')
    task = load_task(tmp_path)
    split, _ = load_split(task)
    judge, info = prepare_judge(task, split.test)
    assert judge.decoding == "choice" and info["decoding"] == "choice" and info["labels"] == ["1", "2", "3", "4", "5"]
    assert "single number from 1 to 5" in info["system_prompt"]
    (j,) = judge.judge_many([(split.test[0].input, "x", split.test[0].output)])
    assert j.verdicts == [3] and j.unparseable == 0
    write_text_task(tmp_path, judge='[judge.model]\nname = "fake/constant:Score: 2"')
    judge, info = prepare_judge(load_task(tmp_path), split.test)
    assert info["decoding"] == "text" and info["labels"] is None  # auto: a non-local judge answers in text
