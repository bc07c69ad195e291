"""`tuneworth decide`, `cost`, `estimate` and `report` as a user runs them; `climb` ends with the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.decide_records import improve, scores_with, write_run
from tests.helpers.paths import REPO
from tuneworth.cli import main

EXAMPLE = REPO / "examples" / "support-triage"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def tw(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuneworth", *args], input=stdin, capture_output=True, text=True)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    l1 = scores_with(400, 0.6, 1)
    l2 = improve(l1, 40, 2)
    return write_run(
        tmp_path / "run",
        {"L1": l1, "L2": l2, "L4": improve(l2, 40, 3)},
        tokens={"L1": (120.0, 10.0), "L2": (900.0, 10.0), "L4": (60.0, 8.0)},
        extra={"training": {"trained_tokens": 300_000}},
    )


def test_decide_run_dir_with_and_without_volume(capsys: pytest.CaptureFixture[str], run_dir: Path) -> None:
    code, out, _ = run(capsys, "decide", str(run_dir))
    assert code == 0 and out.startswith("Fine-tune if you expect at least 2.8M requests a month")
    assert "Is fine-tuning's gain over the best cheaper rung significant?" in out
    code, out, _ = run(capsys, "decide", str(run_dir), "--requests-per-month", "5000000", "--json")
    d = json.loads(out)
    assert d["decision"]["fine_tune"] == "yes" and d["costs"]["requests_per_month"] == 5_000_000
    code, out, _ = run(capsys, "decide", str(run_dir), "--requests-per-month", "1000")
    assert out.startswith("Stop at L2 few-shot: L4 is better, but it does not pay back")


def test_decide_bad_run_dir_is_a_clear_error(tmp_path: Path) -> None:
    res = tw("decide", str(tmp_path))
    assert res.returncode == 2 and "not a run directory" in res.stderr and "Traceback" not in res.stderr


def test_questionnaire(tmp_path: Path) -> None:
    # tried prompting, plateaued, 500 examples, checked, behaviour, not measured, 5M/month,
    # estimate break-even: gpt-4o-mini, 900 -> 60 prompt tokens, 10 answer tokens, $100/h
    answers = "yes\nyes\n500\nyes\nbehaviour\nnot measured\n5000000\nyes\nopenai/gpt-4o-mini\n900\n60\n10\n100\n"
    res = tw("decide", stdin=answers)
    assert res.returncode == 0, res.stderr
    assert "fine-tuning is worth a try" in res.stdout and "break-even: " in res.stdout
    res = tw("decide", "--json", stdin="no\nunknown\n0\nunknown\nunknown\nnot measured\n0\n")
    d = json.loads(res.stdout)["decision"]
    assert d["fine_tune"] == "no" and "training data" in d["verdict"]
    res = tw("decide", stdin="yes\nyes\n200\nyes\nknowledge\nnot measured\n0\n")
    assert "retrieval" in res.stdout


def test_cost_calculator_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "cost", "--prompt-tokens", "900", "--completion-tokens", "10", "--ft-prompt-tokens", "60",
        "--trained-tokens", "300000", "--requests-per-month", "100000", "--json",
    )
    s = json.loads(out)
    # L2-like: (900*0.15 + 10*0.6)/1e6*1000 = 0.141 $/1k; tuned: (60*0.3 + 10*1.2)/1e6*1000 = 0.030
    assert s["base"]["usd_per_1k"] == pytest.approx(0.141) and s["fine_tuned"]["usd_per_1k"] == pytest.approx(0.03)
    # fixed: 0.3M * $3 + 37.5 h * $100 = 3750.9; 3750.9 / (0.000111 * 12) = 2,815,991
    assert s["break_even"]["requests_per_month"] == pytest.approx(3750.9 / (0.000111 * 12))
    assert s["pays_back"] is False
    code, out, _ = run(capsys, "cost", "--prompt-tokens", "100", "--completion-tokens", "10", "--ft-prompt-tokens", "100", "--trained-tokens", "1000")
    assert "break-even: never" in out
    code, out, _ = run(
        capsys, "cost", "--model", "acme/x", "--input-price", "1", "--output-price", "2", "--training-price", "5",
        "--prompt-tokens", "1000", "--completion-tokens", "0", "--ft-prompt-tokens", "0", "--trained-tokens", "1e6",
        "--hourly-rate", "0", "--json",
    )
    s = json.loads(out)
    # $1 per 1k saved minus 1.5x markup on 0 tokens; fixed $5 compute: 5 / (0.001 * 12)
    assert s["break_even"]["requests_per_month"] == pytest.approx(5 / 0.012)
    code, out, _ = run(capsys, "cost", "--list")
    assert code == 0
    assert "openai/gpt-4o-mini" in out and "prices as of" in out


def test_cost_shows_small_fixed_costs_in_cents_not_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """1000 trained tokens at $4/1M and no engineer hours cost $0.004: printed so, never "$0"."""
    code, out, _ = run(
        capsys, "cost", "--model", "acme/x", "--input-price", "1", "--output-price", "2", "--training-price", "4",
        "--prompt-tokens", "1000", "--completion-tokens", "0", "--ft-prompt-tokens", "0", "--trained-tokens", "1000",
        "--hourly-rate", "0",
    )
    fixed = next(line for line in out.splitlines() if "fixed:" in line)
    assert code == 0 and "compute $0.004 (" in fixed and fixed.endswith("= $0.004-$0.004"), fixed


@pytest.mark.parametrize(
    "usd,text",
    [(3750.9, "$3,751"), (12.5, "$12.50"), (0.42, "$0.42"), (0.004, "$0.004"), (0.00123, "$0.0012"), (0.0, "$0"), (None, "no price")],
)
def test_fmt_usd(usd: float | None, text: str) -> None:
    from tuneworth.decide.breakeven import fmt_usd

    assert fmt_usd(usd) == text


def test_cost_errors() -> None:
    res = tw("cost", "--model", "acme/unknown", "--prompt-tokens", "1", "--completion-tokens", "1", "--ft-prompt-tokens", "1", "--trained-tokens", "1")
    assert res.returncode == 2 and "no price for 'acme/unknown'" in res.stderr and "fix:" in res.stderr
    res = tw("cost", "--prompt-tokens", "1")
    assert res.returncode == 2 and "missing --ft-prompt-tokens" in res.stderr


def test_estimate_and_cost_from_the_bundled_task(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", str(EXAMPLE), "--json")
    e = json.loads(out)
    # As the progress bars count: L1 tries 4 variants free + 3 schema-decoded (not CoT) on 16 validation
    # items + 40 test; L2 5 candidates + the schema decoding at its choice; L3 2 candidates.
    assert [r["requests"] for r in e["rungs"]][:2] == [7 * 16 + 40, 6 * 16 + 40]
    assert [r["rung"] for r in e["rungs"]] == ["L1", "L2", "L3"]
    assert e["rungs"][1]["prompt_tokens"] > e["rungs"][0]["base_prompt_tokens"]  # demonstrations are long
    assert e["usd"] > 0 and e["seconds"] > 0
    # Priced as the task's price_reference (an API model) but timed as the local model that runs it.
    from tuneworth.decide.prices import load_prices

    rate = load_prices().throughput
    r = e["rungs"][0]
    expected = r["tokens_in"] / rate["local_prompt_tokens_per_second"] + r["tokens_out"] / rate["local_completion_tokens_per_second"]
    assert r["seconds"] == pytest.approx(expected) and r["priced_as"] == "openai/gpt-4o-mini"
    code, out, _ = run(capsys, "estimate", str(EXAMPLE))
    assert code == 0 and f"total: {e['requests']} requests" in out
    code, out, _ = run(capsys, "cost", "--task", str(EXAMPLE), "--requests-per-month", "100000000")
    assert code == 0 and "break-even" in out


def test_estimate_counts_the_judge_calls(capsys: pytest.CaptureFixture[str]) -> None:
    brand = EXAMPLE.parent / "brand-voice"
    code, out, _ = run(capsys, "estimate", str(brand), "--json")
    e = json.loads(out)
    j = e["judge"]
    calibration = sum(1 for line in (brand / "calibration.jsonl").read_text().splitlines() if line.strip())
    # One pointwise judgement per scored answer (every rung's validation and test requests) + calibration.
    assert j["calls"] == sum(r["requests"] for r in e["rungs"]) + calibration
    assert j["mode"] == "pointwise" and j["completion_tokens"] == 1.0  # a local judge is label-scored
    assert e["requests"] == sum(r["requests"] for r in e["rungs"]) + j["calls"]
    assert e["tokens_in"] == pytest.approx(sum(r["tokens_in"] for r in e["rungs"]) + j["tokens_in"])
    code, out, _ = run(capsys, "estimate", str(brand))
    assert code == 0 and f"judge   pointwise {j['calls']:>9}" in out
    # A task scored without a judge has no judge row.
    code, out, _ = run(capsys, "estimate", str(EXAMPLE), "--json")
    assert json.loads(out)["judge"] is None


def test_estimate_loads_no_model() -> None:
    """Nearest-neighbour L2 and retrieval (L3) are sized without an embedding model: no torch import."""
    code = (
        "import sys; from tuneworth.cli import main\n"
        f"try: main(['estimate', {str(EXAMPLE)!r}, '--json'])\n"
        "except SystemExit: pass\n"
        "print('HEAVY' if {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules) else 'LIGHT')"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("LIGHT")
    e = json.loads(res.stdout[: res.stdout.rindex("}") + 1])
    notes = {r["rung"]: r["note"] for r in e["rungs"]}
    assert "random demonstrations" in notes["L2"] and "token budget" in notes["L3"]


def test_report_command_writes_html_and_markdown(capsys: pytest.CaptureFixture[str], run_dir: Path) -> None:
    code, out, _ = run(capsys, "report", str(run_dir))
    assert code == 0 and "verdict: " in out
    assert (run_dir / "report.html").stat().st_size > 10_000 and (run_dir / "report.md").exists()


def test_climb_renders_the_report(tmp_path: Path) -> None:
    task = tmp_path / "t"
    assert tw("init", str(task)).returncode == 0
    out = tmp_path / "run"
    res = tw("climb", str(task), "--model", "fake/constant:positive", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "verdict: " in res.stderr and (out / "report.html").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert {"statistics", "costs", "decision"} <= set(summary)
    # fake models have no price: the report says so instead of treating them as free
    assert summary["costs"]["rungs"][0]["usd_per_1k"] is None and "no price" in summary["costs"]["rungs"][0]["notes"][0]
    # test items carry their input and gold, so a report shows flipped items from the record alone
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    tests = [i for i in items if i["phase"] == "test"]
    assert tests and all(i["input"] and i["gold"] for i in tests)
    assert all(i.get("input") is None for i in items if i["phase"] == "validation")
