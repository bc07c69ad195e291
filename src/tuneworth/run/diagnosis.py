"""Knowledge or behaviour? Per test item, which rung of the ladder first got it right.

Every rung is scored on the same test items, so an item's outcomes line up across rungs. An item
*passes* a rung when its score is full (1.0: the label, the text or every JSON field right). For each
item that fails the first rung run, the first later rung that passes it decides the cause:

- ``knowledge``: first fixed by L3 retrieval. L3 keeps L2's prompt and demonstrations and adds
  retrieved documents, so what fixed it is the missing information.
- ``behaviour``: first fixed by L2 (demonstrations) or L4 (fine-tuning): the model knew enough but
  did not answer the right way. (Format and rules prompting is inside L1's choice, the first rung.)
- ``unfixed``: no rung got it right.

Items the first rung already passes are ``ok``. Shares are over the failing items; ``regressed``
counts items that some later rung broke again, a caution for the decision. For JSON answers the same
reading is repeated per field (``fields``), where one field (say ``action``) may need a document while
the others need only the format. Reads only the record's items, like every report.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from tuneworth.record.schema import DiagnosisSection, ItemResult

CAUSES = ("knowledge", "behaviour", "unfixed")


def _passes(score: Any) -> bool | None:
    if score is None:
        return None  # a provider error: unknown, not wrong
    return float(score) >= 1.0 - 1e-9


def _classify(
    outcome: dict[str, dict[str, bool | None]], rungs: list[str], ids: Sequence[str], knowledge: frozenset[str] | set[str]
) -> dict[str, Any]:
    counts = {"ok": 0, "knowledge": 0, "behaviour": 0, "unfixed": 0, "unknown": 0}
    fixed_by = {r: 0 for r in rungs[1:]}
    regressed = 0
    per_item: dict[str, str] = {}
    for item_id in ids:
        seq = [outcome[r].get(item_id) for r in rungs]
        first = next((i for i, p in enumerate(seq) if p), None)
        if seq[0] is None:
            cause = "unknown"
        elif seq[0]:
            cause = "ok"
        elif first is None:
            cause = "unfixed"
        else:
            fixed_by[rungs[first]] += 1
            cause = "knowledge" if rungs[first] in knowledge else "behaviour"
        if first is not None and any(p is False for p in seq[first + 1 :]):
            regressed += 1
        counts[cause] += 1
        per_item[item_id] = cause
    failing = counts["knowledge"] + counts["behaviour"] + counts["unfixed"]
    return {
        "counts": counts,
        "failing": failing,
        "shares": {c: round(counts[c] / failing, 4) if failing else None for c in CAUSES},
        "fixed_by": fixed_by,
        "regressed": regressed,
        "items": per_item,
    }


def diagnose(
    items: Sequence[ItemResult],
    rung_order: Sequence[str],
    test_ids: Sequence[str],
    knowledge_rungs: Collection[str],
) -> DiagnosisSection:
    """The ``diagnosis`` section of the record from its test-phase items.

    ``knowledge_rungs``: rungs whose fixes count as knowledge (each rung's ``fixes`` metadata for this
    run: L3 with documents; dynamic few-shot demonstrations fix behaviour).
    """
    return DiagnosisSection.model_validate(_diagnose(items, rung_order, test_ids, set(knowledge_rungs)))


def _diagnose(
    items: Sequence[ItemResult], rung_order: Sequence[str], test_ids: Sequence[str], knowledge_rungs: set[str]
) -> dict[str, Any]:
    outcome: dict[str, dict[str, bool | None]] = {r: {} for r in rung_order}
    by_field: dict[str, dict[str, dict[str, bool | None]]] = {}
    for it in items:
        if it.phase != "test" or it.rung not in outcome:
            continue
        outcome[it.rung][it.item_id] = _passes(it.score)
        fields = it.details.get("fields")
        if isinstance(fields, dict):
            for f, ok in fields.items():
                per = by_field.setdefault(f, {r: {} for r in rung_order})
                per[it.rung][it.item_id] = None if it.score is None else bool(ok)
    rungs = [r for r in rung_order if outcome[r]]
    result: dict[str, Any] = {"rungs": rungs, "pass_rule": "score == 1 (every field right)", "n": len(test_ids)}
    if len(rungs) < 2:
        result["note"] = "needs at least two rungs scored on the test items"
        return result
    result["knowledge_rungs"] = sorted(set(knowledge_rungs) & set(rungs))
    result.update(_classify(outcome, rungs, test_ids, knowledge_rungs))
    result["verdict"] = verdict(result["counts"], result["failing"])
    if by_field:
        result["fields"] = {}
        for f, per in sorted(by_field.items()):
            fc = _classify(per, rungs, test_ids, knowledge_rungs)
            fc.pop("items")
            result["fields"][f] = fc
    return result


def verdict(counts: dict[str, int], failing: int) -> str:
    if not failing:
        return "no failures at the first rung: nothing to diagnose"
    k, b, u = counts["knowledge"], counts["behaviour"], counts["unfixed"]
    parts = f"of {failing} items the first rung got wrong, {k} were fixed by retrieval (knowledge), " \
            f"{b} by prompting, demonstrations or fine-tuning (behaviour), {u} by nothing"
    if k > b and k >= u:
        return parts + ": mostly missing knowledge, so retrieval beats fine-tuning here"
    if b > k and b >= u:
        return parts + ": mostly behaviour, which prompting or fine-tuning address, not retrieval"
    return parts + ": mostly unfixed so far"
