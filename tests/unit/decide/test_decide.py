"""Costs, break-even and the decision on synthetic run records, one per branch of the framework."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.decide_records import improve, scores_with, write_run
from tuneworth.config.task import EconomicsConfig
from tuneworth.decide.breakeven import break_even, fmt_volume
from tuneworth.decide.costs import finetune_fixed, rung_cost, seconds_per_request
from tuneworth.decide.evidence import analysed
from tuneworth.decide.prices import load_prices
from tuneworth.errors import ConfigError
from tuneworth.record.schema import ItemResult
from tuneworth.report.render import load_run

# ---- break-even arithmetic, checked by hand


def test_break_even_by_hand() -> None:
    # $3,600 fixed, saving $0.0001 per request, 12 months: 3600 / (0.0001 * 12) = 3,000,000 / month.
    be = break_even(3600, 0.0001, 0.0002, payback_months=12)
    assert be.requests_per_month == pytest.approx(3_000_000) and not be.never
    # Six months to pay back doubles the volume needed.
    assert break_even(3600, 0.0001, 0.0002, payback_months=6).requests_per_month == pytest.approx(
        6_000_000
    )


def test_break_even_never_when_fine_tuning_costs_more_per_request() -> None:
    be = break_even(3600, 0.0003, 0.0002)
    assert be.never and be.requests_per_month is None
    assert fmt_volume(be.requests_per_month) == "never"
    assert break_even(3600, 0.0002, 0.0002).never  # equal cost: nothing to repay with


def test_value_of_errors_avoided_can_make_it_pay() -> None:
    # Costs $0.0001 more per request, but avoids 5 points of errors worth $0.01 each: +$0.0004 net.
    be = break_even(1200, 0.0003, 0.0002, payback_months=12, score_gain=0.05, cost_per_error=0.01)
    assert be.value_per_request == pytest.approx(0.0005)
    assert be.requests_per_month == pytest.approx(1200 / (0.0004 * 12))


def test_fmt_volume() -> None:
    assert fmt_volume(2_400_000) == "2.4M" and fmt_volume(950) == "950" and fmt_volume(12_500) == "12.5K"


# ---- prices and costs


def test_prices_table_is_dated_and_overridable() -> None:
    t = load_prices()
    assert t.as_of and t.sources
    p = t.price("openai/gpt-4o-mini-2024-07-18")  # dated snapshot priced as its family
    assert p is not None and p.model == "openai/gpt-4o-mini"
    assert t.price("openai/ft:gpt-4o-mini:acme:abc") == t.price("openai/gpt-4o-mini")
    assert t.price("openai/unknown-model") is None
    o = load_prices(
        {"prices": {"openai/gpt-4o-mini": {"input": 1.0, "output": 2.0}}, "hardware": {"mine": 0.5}}
    )
    p2 = o.price("openai/gpt-4o-mini")
    assert p2 is not None and (p2.input, p2.output, p2.source) == (1.0, 2.0, "task file")
    assert o.hourly("mine") == 0.5
    with pytest.raises(ConfigError, match="local_device"):
        o.hourly("nope")


def _cost(name: str, model: str, pin: float, pout: float, *, trains: bool = False, **eco: Any) -> Any:
    t = load_prices(eco)
    return rung_cost(
        name, model, trains=trains, prompt_tokens=pin, completion_tokens=pout, table=t,
        economics=EconomicsConfig.model_validate(eco),
    )


def test_cost_per_1k_from_measured_tokens() -> None:
    c = _cost("L2", "openai/gpt-4o-mini", 1000, 20)
    # 1000 * (1000 * 0.15 + 20 * 0.60) / 1e6 = 0.162 dollars per 1k requests
    assert c.usd_per_1k == pytest.approx(0.162) and c.basis == "tokens"
    tuned = _cost("L4", "openai/gpt-4o-mini", 100, 20, trains=True)
    assert tuned.usd_per_1k == pytest.approx(1000 * (100 * 0.30 + 20 * 1.20) / 1e6)


def test_fine_tuned_price_defaults_to_markup() -> None:
    c = _cost("L4", "acme/m", 1000, 0, trains=True, prices={"acme/m": {"input": 1.0, "output": 2.0}})
    assert c.usd_per_1k == pytest.approx(1.5) and "1.5x" in c.notes[0]


def _item(latency_ms: float) -> ItemResult:
    return ItemResult(
        rung="L1", phase="test", config={}, item_id="x", output="", score=1.0, valid=True,
        prompt_tokens=1, completion_tokens=1, latency_ms=latency_ms,
    )


def test_local_model_priced_by_measured_time() -> None:
    items = [_item(2000.0), _item(2000.0), _item(1000.0), _item(1000.0)]  # two batches of two
    assert seconds_per_request(items, "L1") == pytest.approx(0.75)  # 3 s of batches for 4 items
    t = load_prices()
    c = rung_cost(
        "L1", "local/smollm2-135m", trains=False, prompt_tokens=80, completion_tokens=10, table=t,
        economics=EconomicsConfig(local_device="h100"), seconds=0.75,
    )
    assert c.basis == "compute" and c.usd_per_1k == pytest.approx(1000 * 0.75 * 2.99 / 3600)


def test_unpriced_model_says_so() -> None:
    c = _cost("L1", "acme/unknown", 80, 10)
    assert c.usd_per_1k is None and "no price" in c.notes[0]


def test_fixed_costs_measured_and_estimated() -> None:
    t = load_prices()
    eco = EconomicsConfig(human_hourly_rate=50, data_prep_hours=(10, 30), iteration_hours=(2, 10))
    f = finetune_fixed("openai/gpt-4o-mini", trained_tokens=1_000_000, training_seconds=None, estimated_tokens=None, table=t, economics=eco)
    assert f.measured and f.compute_usd == pytest.approx(3.0)
    assert f.human_hours.model_dump() == {"low": 12, "mid": 26, "high": 40}
    assert f.total_usd.mid == pytest.approx(3.0 + 26 * 50)
    est = finetune_fixed(
        "local/smollm2-135m", trained_tokens=None, training_seconds=None, estimated_tokens=100 * 100 * 3,
        table=t, economics=EconomicsConfig(local_device="cpu-2core"),
    )
    assert not est.measured and est.trained_tokens == 100 * 100 * 3
    assert est.compute_usd == pytest.approx(30000 / 150 / 3600 * 0.10)


# ---- the decision, one synthetic record per branch

N = 400


def _analyse(run: Path, *, economics_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The analysed summary's decide sections, as JSON (what ``decide --json`` prints)."""
    return analysed(load_run(run), economics_overrides).model_dump(mode="json", include={"statistics", "costs", "decision"})


def _ladder(gain_l2: int = 40, gain_l4: int = 40, n: int = N) -> dict[str, list[float]]:
    l1 = scores_with(n, 0.6, 1)
    l2 = improve(l1, gain_l2, 2)
    return {"L1": l1, "L2": l2, "L4": improve(l2, gain_l4, 3)}


TOKENS = {"L1": (120.0, 10.0), "L2": (900.0, 10.0), "L4": (60.0, 8.0)}
TRAINING = {"training": {"trained_tokens": 300_000, "seconds": 600}}


def test_fine_tune_when_significant_and_volume_pays(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r", _ladder(), tokens=TOKENS, economics={"requests_per_month": 5_000_000}, extra=TRAINING
    )
    out = _analyse(run)
    d = out["decision"]
    assert d["fine_tune"] == "yes" and d["stop_at"] == "L4"
    assert any("below 2.8M requests/month" in c for c in d["what_would_change"])
    assert out["costs"]["break_even"]["requests_per_month"] == pytest.approx(3750.9 / (0.1134 / 1000 * 12))
    assert out["statistics"]["comparisons"][-1]["verdict"] == "better"


def test_significant_but_volume_too_low(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r", _ladder(), tokens=TOKENS, economics={"requests_per_month": 100_000}, extra=TRAINING
    )
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "no" and d["stop_at"] == "L2"
    assert "does not pay back at your volume" in d["verdict"]
    assert any("above 2.8M requests/month fine-tuning pays back" in c for c in d["what_would_change"])


def test_significant_but_volume_unknown(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", _ladder(), tokens=TOKENS, extra=TRAINING)
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "not yet" and "2.8M" in d["verdict"]
    # ... and the same record decided with a volume given on the command line.
    d2 = _analyse(run, economics_overrides={"requests_per_month": 9_000_000})["decision"]
    assert d2["fine_tune"] == "yes"


def test_never_pays_when_fine_tuned_costs_more_per_request(tmp_path: Path) -> None:
    tokens = {"L1": (120.0, 10.0), "L2": (150.0, 10.0), "L4": (140.0, 10.0)}  # short L2 prompts
    run = write_run(
        tmp_path / "r", _ladder(), tokens=tokens, economics={"requests_per_month": 50_000_000}, extra=TRAINING
    )
    out = _analyse(run)
    assert out["costs"]["break_even"]["never"]
    assert out["decision"]["fine_tune"] == "no"
    vol = next(q for q in out["decision"]["questions"] if q["key"] == "volume")
    assert vol["status"] == "no" and "never" in vol["answer"]
    # The verdict does not blame a volume: none makes it pay back, and none need be given.
    assert "never pays back" in out["decision"]["verdict"] and "your volume" not in out["decision"]["verdict"]
    out2 = _analyse(write_run(tmp_path / "r2", _ladder(), tokens=tokens, extra=TRAINING))
    assert "never pays back" in out2["decision"]["verdict"]


def test_no_meaningful_gain(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r",
        _ladder(gain_l4=0, n=2000),
        tokens=TOKENS,
        economics={"requests_per_month": 5_000_000},
        extra=TRAINING,
    )
    out = _analyse(run)
    c = out["statistics"]["comparisons"][-1]
    assert c["verdict"] == "no meaningful difference"
    assert out["decision"]["fine_tune"] == "no" and "no meaningful gain" in out["decision"]["verdict"]


def test_too_small_to_tell_says_how_many_items_would(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", _ladder(gain_l2=4, gain_l4=2, n=40), tokens=TOKENS, extra=TRAINING)
    out = _analyse(run)
    c = out["statistics"]["comparisons"][-1]
    assert c["verdict"] == "too small to tell" and (c["mde"] is None or c["mde"] > 0.03)  # None: nothing detectable
    d = out["decision"]
    assert (
        d["fine_tune"] == "not yet" and d["stop_at"] == "L1"
    )  # L2's +10 points on 40 items is not significant either
    assert any("x the test items" in w and "would detect the observed" in w for w in d["what_would_change"])


def test_worse_fine_tune(tmp_path: Path) -> None:
    s = _ladder()
    s["L4"] = scores_with(N, 0.3, 9)
    run = write_run(
        tmp_path / "r", s, tokens=TOKENS, economics={"requests_per_month": 5_000_000}, extra=TRAINING
    )
    out = _analyse(run)
    assert out["statistics"]["comparisons"][-1]["verdict"] == "worse"
    assert out["decision"]["fine_tune"] == "no"


def test_failed_audit_blocks_fine_tuning(tmp_path: Path) -> None:
    audit = {
        "audit": {
            "status": "fail",
            "counts": {"fail": 1, "pass": 1},
            "checks": [
                {"name": "contradictions", "status": "fail", "reason": "12 pairs"},
                {"name": "format", "status": "pass"},
            ],
        }
    }
    run = write_run(
        tmp_path / "r",
        _ladder(),
        tokens=TOKENS,
        economics={"requests_per_month": 5_000_000},
        extra={**TRAINING, **audit},
    )
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "no" and "training data" in d["verdict"]
    q = next(q for q in d["questions"] if q["key"] == "data")
    assert "contradictions" in " ".join(q["evidence"])


def test_knowledge_failures_point_to_retrieval(tmp_path: Path) -> None:
    s = _ladder()
    s["L3"] = s.pop("L4")
    diag = {"diagnosis": _diagnosis(knowledge=0.6, behaviour=0.1, unfixed=0.3)}
    run = write_run(tmp_path / "r", s, tokens=TOKENS, extra=diag)
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "no" and "retrieval" in d["verdict"] and d["stop_at"] == "L3"
    assert "fine-tuning not run" in d["sections_missing"]


def test_l4_not_run_worth_a_try_with_estimated_break_even(tmp_path: Path) -> None:
    s = _ladder()
    del s["L4"]
    audit = {
        "audit": {"status": "pass", "counts": {}, "checks": []},
        "diagnosis": _diagnosis(knowledge=2 / 15, behaviour=10 / 15, unfixed=3 / 15),
    }
    run = write_run(
        tmp_path / "r", s, tokens=TOKENS, economics={"requests_per_month": 5_000_000}, extra=audit
    )
    out = _analyse(run)
    d = out["decision"]
    assert d["fine_tune"] == "try" and d["stop_at"] == "L2"
    assert out["costs"]["l4_estimated"] and out["costs"]["break_even"]["requests_per_month"] > 0
    assert any("fine-tuning not run" in e for q in d["questions"] for e in q["evidence"])
    assert d["sections_missing"] == ["fine-tuning not run"]


def test_l4_not_run_and_volume_too_low(tmp_path: Path) -> None:
    s = _ladder()
    del s["L4"]
    run = write_run(tmp_path / "r", s, tokens=TOKENS, economics={"requests_per_month": 1000})
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "no" and "volume" in d["verdict"]


def test_only_l1_run_means_try_prompting_first(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", {"L1": scores_with(N, 0.5, 1)})
    d = _analyse(run)["decision"]
    assert d["fine_tune"] == "no" and d["verdict"].startswith("Try prompting first")
    assert d["stop_at"] == "L1"


def test_too_few_examples(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", _ladder(), tokens=TOKENS, n_train=8, extra=TRAINING)
    assert _analyse(run)["decision"]["fine_tune"] == "no"


def test_plateau_and_learning_curve_are_read(tmp_path: Path) -> None:
    val = {
        "L2": [
            {"config": {"k": 1, "selection": "nearest"}, "score": 0.5},
            {"config": {"k": 3, "selection": "nearest"}, "score": 0.6},
            {"config": {"k": 5, "selection": "nearest"}, "score": 0.61},
            {"config": {"k": 3, "selection": "random"}, "score": 0.4},
        ]
    }
    curve = {
        "training": {
            "trained_tokens": 1000,
            "learning_curve": [
                {"fraction": 0.5, "train_examples": 200, "score": 0.6},
                {"fraction": 1.0, "train_examples": 400, "score": 0.7},
            ],
        }
    }
    run = write_run(tmp_path / "r", _ladder(), tokens=TOKENS, validation=val, extra=curve)
    # the chosen L2 config in the synthetic record is {"variant": "base"}: point it at nearest
    import json

    rec = json.loads((run / "record.json").read_text())
    rec["rungs"]["L2"]["chosen"] = {"k": 5, "selection": "nearest"}
    (run / "record.json").write_text(json.dumps(rec))
    qs = {q["key"]: q for q in _analyse(run)["decision"]["questions"]}
    assert any("plateaued: k=3→5 +0.010" in e for e in qs["prompting"]["evidence"])
    assert any("still rising" in e for e in qs["data"]["evidence"])


def test_continuous_metric_uses_paired_bootstrap(tmp_path: Path) -> None:
    import random

    rng = random.Random(4)
    l1 = [rng.choice([0, 0.25, 0.5, 0.75, 1.0]) for _ in range(300)]
    l2 = [min(1.0, v + 0.25) if rng.random() < 0.4 else v for v in l1]
    run = write_run(tmp_path / "r", {"L1": l1, "L2": l2}, metric="field_accuracy")
    c = _analyse(run)["statistics"]["comparisons"][0]
    assert c["test"] == "paired-bootstrap" and c["verdict"] == "better" and c["ci_low"] > 0


# ---- sections written by other parts of tuneworth are typed: a foreign shape is a clear error


@pytest.mark.parametrize(
    "section",
    [{"audit": {"checks": "not a list"}}, {"diagnosis": {"shares": 3}}, {"training": {"learning_curve": [{"score": "x"}]}}],
)
def test_a_foreign_section_is_a_clear_error_naming_the_run(tmp_path: Path, section: dict[str, Any]) -> None:
    import json

    run = write_run(tmp_path / "r", {"L1": scores_with(30, 0.5, 1), "L4": scores_with(30, 0.6, 2)}, n_train=100)
    rec = json.loads((run / "record.json").read_text())
    (run / "record.json").write_text(json.dumps({**rec, **section}))
    with pytest.raises(ConfigError, match=str(run)):
        load_run(run)


def _diagnosis(**shares: float) -> dict[str, Any]:
    return {"rungs": ["L1", "L2", "L3"], "pass_rule": "score >= 0.5", "n": 15, "shares": shares}


def test_an_exact_bootstrap_p_below_its_resolution_is_never_printed_as_zero(tmp_path: Path) -> None:
    """Every item gains a quarter point: the exact paired bootstrap has no mass at or below 0. The
    decision text and the HTML said "p=0"; a statistician writes "p < 1e-10" (the method's resolution)."""
    from tuneworth.report.render import write_report

    l1 = [0.0, 0.25, 0.5, 0.25] * 10
    run = write_run(tmp_path / "r", {"L1": l1, "L2": [v + 0.25 for v in l1]}, metric="field_accuracy")
    c = _analyse(run)["statistics"]["comparisons"][0]
    assert c["test"] == "paired-bootstrap" and c["p"] < 1e-10
    assert "paired-bootstrap p < 1e-10 (Holm p < 1e-10)" in c["text"] and "p=0 " not in c["text"]
    html = write_report(run).html.read_text(encoding="utf-8")
    assert "p &lt; 1e-10 / p &lt; 1e-10" in html and "p=0 " not in html
