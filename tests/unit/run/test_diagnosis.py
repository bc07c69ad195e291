"""The knowledge-vs-behaviour diagnosis and retrieval-quality arithmetic, on hand-made records."""

from __future__ import annotations

from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.record.schema import ItemResult
from tuneworth.retrieval.chunk import Chunk
from tuneworth.retrieval.index import Hit
from tuneworth.retrieval.quality import retrieval_quality
from tuneworth.run.diagnosis import diagnose


def _item(rung: str, item: str, score: float | None, fields: dict[str, bool] | None = None) -> ItemResult:
    return ItemResult(
        rung=rung, phase="test", config={}, item_id=item, output="", score=score, valid=True, prompt_tokens=1,
        completion_tokens=1, latency_ms=1.0, details={"fields": fields} if fields else {},
    )


def test_first_rung_that_fixes_an_item_names_the_cause() -> None:
    outcomes = {  # item -> scores at L1, L2, L3, L4
        "ok": (1, 1, 1, 1),
        "knowledge": (0, 0.5, 1, 1),
        "behaviour_l2": (0, 1, 1, 1),
        "behaviour_l4": (0.75, 0.5, 0.5, 1),
        "unfixed": (0, 0, 0.5, 0.75),
        "regressed": (0, 1, 0, 1),
        "error": (None, 1, 1, 1),
    }
    items = [_item(r, i, s) for i, scores in outcomes.items() for r, s in zip(("L1", "L2", "L3", "L4"), scores, strict=True)]
    d = diagnose(items, ["L1", "L2", "L3", "L4"], list(outcomes), {"L3"})
    assert d.counts == {"ok": 1, "knowledge": 1, "behaviour": 3, "unfixed": 1, "unknown": 1}
    assert d.fixed_by == {"L2": 2, "L3": 1, "L4": 1}
    assert d.failing == 5 and d.shares == {"knowledge": 0.2, "behaviour": 0.6, "unfixed": 0.2}
    assert d.regressed == 1 and d.items is not None and d.items["knowledge"] == "knowledge"
    assert d.verdict is not None and "mostly behaviour" in d.verdict
    # Which rungs count as knowledge is the rungs' metadata for the run, not a name: none here.
    assert diagnose(items, ["L1", "L2", "L3", "L4"], list(outcomes), set()).counts == {
        "ok": 1, "knowledge": 0, "behaviour": 4, "unfixed": 1, "unknown": 1
    }


def test_fields_are_diagnosed_separately_and_one_rung_is_not_enough() -> None:
    items = [
        _item("L2", "a", 0.75, {"action": False, "category": True}),
        _item("L3", "a", 1.0, {"action": True, "category": True}),
        _item("L2", "b", 0.5, {"action": False, "category": False}),
        _item("L3", "b", 0.5, {"action": True, "category": False}),
    ]
    d = diagnose(items, ["L2", "L3"], ["a", "b"], {"L3"})
    assert d.counts is not None and d.counts["knowledge"] == 1 and d.counts["unfixed"] == 1
    assert d.fields is not None and d.fields["action"]["counts"]["knowledge"] == 2
    assert d.fields["category"]["counts"] == {"ok": 1, "knowledge": 0, "behaviour": 0, "unfixed": 1, "unknown": 0}
    one = diagnose(items, ["L2"], ["a", "b"], {"L3"})
    assert one.note is not None and one.counts is None


def _hits(*sources: str) -> list[Hit]:
    return [Hit(Chunk(s.split("#")[0], int(s.split("#")[1]), 0, 4, f"text of {s}"), 1.0 / r, r)
            for r, s in enumerate(sources, 1)]


def test_recall_mrr_with_gold_sources_and_containment_without() -> None:
    task = Task.model_validate({"name": "t", "data": {"path": "x"}})
    exs = [
        Example("1", "q", "a", meta={"metadata": {"sources": ["refunds.md"]}}),
        Example("2", "q", "a", meta={"metadata": {"sources": ["faq.jsonl", "shipping.md"]}}),
        Example("3", "q", "a", meta={"metadata": {"source": "warranty.md"}}),
    ]
    rankings = [
        _hits("refunds.md#0", "shipping.md#1"),
        _hits("warranty.md#0", "shipping.md#2", "faq.jsonl#0"),
        _hits("refunds.md#1", "shipping.md#0", "warranty.md#3"),
    ]
    q = retrieval_quality(task, exs, rankings, 2)
    assert q["n"] == 3 and q["recall@2"] == round((1 + 0.5 + 0) / 3, 4)
    assert q["mrr"] == round((1 + 0.5 + 1 / 3) / 3, 4)
    plain = [Example("4", "q", "14 days"), Example("5", "q", "never")]
    ranked = [[Hit(Chunk("a.md", 0, 0, 1, "Returns within 14 days."), 1.0, 1)], [Hit(Chunk("b.md", 0, 0, 1, "x"), 1.0, 1)]]
    c = retrieval_quality(task, plain, ranked, 1)
    assert c["metric"] == "answer_containment" and c["containment"] == 0.5
