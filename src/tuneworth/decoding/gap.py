"""Did constraining the output close the format gap? Free vs constrained decoding, per rung.

Computed from a rung's validation items alone (where every decoding was tried, like for like): for
each decoding, its best candidate's score and validity rate. The gap is closed when a constrained
decoding answers validly (>= 99%) while free generation does not, and the verdict says so in words.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

VALID_ENOUGH = 0.99


def compare_decodings(items: Sequence[dict[str, Any]], chosen: str) -> dict[str, Any]:
    """``{"chosen", "modes": {mode: {config, score, validity_rate, n}}, "closed", "verdict"}``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        if it.get("error") is None and it.get("score") is not None:
            mode = str((it.get("config") or {}).get("decoding", "free"))
            groups[(mode, json.dumps(it.get("config"), sort_keys=True))].append(it)
    modes: dict[str, dict[str, Any]] = {}
    for (mode, cfg), rows in groups.items():
        n = len(rows)
        entry = {
            "config": json.loads(cfg),
            "score": round(sum(float(r["score"]) for r in rows) / n, 4),
            "validity_rate": round(sum(1 for r in rows if r.get("valid")) / n, 4),
            "n": n,
        }
        best = modes.get(mode)
        if best is None or (entry["score"], entry["validity_rate"]) > (best["score"], best["validity_rate"]):
            modes[mode] = entry
    closed, verdict = _verdict(modes)
    return {"chosen": chosen, "modes": modes, "closed": closed, "verdict": verdict}


def _verdict(modes: dict[str, dict[str, Any]]) -> tuple[bool | None, str]:
    free = modes.get("free")
    constrained = {m: e for m, e in modes.items() if m != "free"}
    if free is None or not constrained:
        return None, "no free vs constrained comparison (only one decoding ran)"
    mode, best = max(constrained.items(), key=lambda kv: (kv[1]["validity_rate"], kv[1]["score"]))
    change = (
        f"valid {free['validity_rate']:.0%} -> {best['validity_rate']:.0%}, "
        f"score {free['score']:.3f} -> {best['score']:.3f} (validation, best candidate of each)"
    )
    if free["validity_rate"] >= VALID_ENOUGH:
        return None, f"no format gap: free decoding was already valid; {mode}: {change}"
    if best["validity_rate"] >= VALID_ENOUGH:
        return True, f"{mode} decoding closed the format gap: {change}"
    return False, f"{mode} decoding did not close the format gap: {change}"


def ladder_format_gap(rows: Sequence[dict[str, Any]]) -> str | None:
    """Prompting vs fine-tuning on format (test validity, each rung with the decoding it chose), in words.

    None unless the ladder has L4 and a prompted rung. The gap is closed when the best prompted rung
    answers validly at least as often as the fine-tuned model (or >= 99% of the time).
    """
    rated = {r["name"]: r for r in rows if r.get("validity_rate") is not None}
    ft = rated.get("L4")
    prompted = [r for name, r in rated.items() if name != "L4"]
    if ft is None or not prompted:
        return None
    best = max(prompted, key=lambda r: (r["validity_rate"], r.get("score") or 0.0))
    said = (
        f"test validity: L4 ({ft.get('decoding', 'free')}) {ft['validity_rate']:.0%}, "
        f"best prompted rung {best['name']} ({best.get('decoding', 'free')}) {best['validity_rate']:.0%}"
    )
    if best["validity_rate"] >= min(ft["validity_rate"], VALID_ENOUGH):
        how = "constrained" if best.get("decoding", "free") != "free" else "free"
        return f"prompting ({how} decoding) matches fine-tuning on format: {said}"
    return (
        f"fine-tuning keeps a format gap of {ft['validity_rate'] - best['validity_rate']:.0%} "
        f"over prompting: {said}"
    )
