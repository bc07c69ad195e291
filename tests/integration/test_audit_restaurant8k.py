"""restaurant8k (../shared, real crowd-sourced booking requests): a stable, sensible audit.

Skips where ../shared is absent. With embeddings: the first 800 training requests and the official
test split's first 200 as --test (1,000 texts to embed, kept small for CI: 600 training requests hold
no exact duplicate yet, 800 hold exact duplicates, contradictions and leakage). Without embeddings
(cheap): the full data, against the snapshot in docs/audit-restaurant8k.md, so the snapshot stays current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from restaurant8k import SHARED, convert

from tuneworth.audit.context import AuditContext, infer_kind
from tuneworth.audit.reader import read_dataset
from tuneworth.audit.run import run_checks
from tuneworth.audit.tokens import token_counter

pytestmark = pytest.mark.skipif(
    not (SHARED / "train.json").is_file(), reason=f"{SHARED} not present (only in the dev workspace)"
)


def _strip_seconds(d: dict) -> dict:  # type: ignore[type-arg]
    d = dict(d, seconds=0)
    d["checks"] = [dict(c, seconds=0) for c in d["checks"]]
    return d


def test_restaurant8k_report_is_stable_and_sensible(tmp_path: Path) -> None:
    train = read_dataset(convert("train", tmp_path / "train.jsonl", limit=800))
    test = read_dataset(convert("test", tmp_path / "test.jsonl", limit=200))
    ctx = AuditContext(data=train, kind=infer_kind(train), test=test, kind_source="inferred")
    first = run_checks(ctx)
    again = run_checks(ctx)  # same context: embeddings computed once, every check deterministic
    assert _strip_seconds(first.to_dict()) == _strip_seconds(again.to_dict())
    s = {c.name: c for c in first.checks}
    assert first.kind == "json" and first.n_examples == 800
    assert s["format"].status == "pass" and s["size"].status == "pass"
    assert s["size"].metrics["tokens"]["max"] < 200  # short booking requests
    # Crowd-sourced data has real repeats and inconsistently annotated repeats.
    assert s["duplicates"].metrics["exact_groups"] > 0
    assert s["contradictions"].metrics["exact_groups"] > 0
    assert set(s["contradictions"].metrics["fields"]) <= {"date", "time", "people", "first_name", "last_name"}
    # Slot values are free text (spans), not classes: nothing to balance or to vote on.
    assert s["balance"].status == "skip" and s["label_noise"].status == "skip"
    leak = s["representativeness"].metrics["leakage"]
    assert leak["test"] == 200 and leak["exact"] > 0  # the official splits share some requests verbatim


def _snapshot() -> dict[int, str]:
    """The documented report's check lines: check number -> 'STATUS  reason'."""
    doc = (REPO / "docs" / "audit-restaurant8k.md").read_text(encoding="utf-8")
    return {int(m[1]): m[2] for m in re.finditer(r"^(\d)\. [A-Za-z -]+?\s{2,}((?:PASS|WARN|FAIL|skip)\s+.*)$", doc, re.M)}


def test_docs_snapshot_matches_a_fresh_run_of_the_cheap_checks(tmp_path: Path) -> None:
    # The snapshot's token numbers are exact SmolLM2 counts: the audit gets that tokenizer from the bundled
    # GGUF even where the model never ran, so only a machine without the local extra estimates.
    counter = token_counter("local/smollm2-135m")
    if not counter.exact:
        pytest.skip(f"the snapshot counts exact SmolLM2 tokens; this machine has {counter.label}: install tuneworth[local]")
    train = read_dataset(convert("train", tmp_path / "train.jsonl"))
    test = read_dataset(convert("test", tmp_path / "test.jsonl"))
    ctx = AuditContext(data=train, kind=infer_kind(train), test=test, kind_source="inferred", use_embeddings=False)
    checks = ["format", "size", "duplicates", "contradictions", "consistency", "coverage", "representativeness"]
    report = {c.name: c for c in run_checks(ctx, checks=checks).checks}
    doc = _snapshot()
    assert len(doc) == 9, doc
    # Checks that never use embeddings: the documented line, word for word.
    for i, name in ((1, "format"), (2, "size"), (5, "consistency"), (7, "coverage")):
        assert doc[i].split(None, 1)[1] == report[name].reason, name
    # Embedding checks: their exact-match part.
    assert f"{report['duplicates'].metrics['exact_groups']} exact group(s)" in doc[3]
    assert f"{report['contradictions'].metrics['exact_groups']} identical-input group(s)" in doc[4]
    leak = report["representativeness"].metrics["leakage"]
    assert f"leakage: {leak['exact']} exact" in doc[8] and f"of {leak['test']}" in doc[8]
