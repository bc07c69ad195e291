"""Each check finds exactly its planted problem and nothing else; a clean data set passes everything.

The embedding model loads once per process (memoised); ~65 short hand-written examples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.audit_data import clean, planted
from tuneworth.audit import AuditReport, audit
from tuneworth.config.task import load_task

Bad = tuple[AuditReport, dict[str, object]]


def lines_of(report: AuditReport, name: str) -> set[tuple[str, int]]:
    return {(ev.file, n) for ev in report.check(name).evidence for n in ev.lines}


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Bad:
    d = tmp_path_factory.mktemp("bad")
    plants = planted(d)
    report = audit(d / "data.jsonl", production=d / "production.txt", test=d / "test.jsonl", task=load_task(d))
    return report, plants


def test_format_finds_the_planted_line_only(bad: Bad) -> None:
    report, plants = bad
    fmt = report.check("format")
    assert fmt.status == "fail" and fmt.metrics["bad_lines"] == 1
    assert lines_of(report, "format") == {("data.jsonl", plants["format"])}
    assert "unknown_role" in fmt.reason


def test_size_flags_only_the_long_example(bad: Bad) -> None:
    report, plants = bad
    size = report.check("size")
    assert size.status == "warn" and "1 over the 100-token limit" in size.reason
    assert lines_of(report, "size") == {("data.jsonl", plants["size"])}
    tokens = size.metrics["tokens"]
    assert tokens["exact"] and "SmolLM2" in tokens["counter"] and tokens["max"] > 100 > tokens["p90"]


def test_duplicates_exact_and_near(bad: Bad) -> None:
    report, plants = bad
    dup = report.check("duplicates")
    assert dup.status == "warn"
    assert dup.metrics["exact_groups"] == 1 and dup.metrics["near_groups"] == 1
    assert [ev.lines for ev in dup.evidence] == [[20, plants["duplicate"]], [6, plants["near_duplicate"]]]


def test_contradiction_names_the_field(bad: Bad) -> None:
    report, plants = bad
    c = report.check("contradictions")
    assert c.status == "warn" and c.metrics["fields"] == {"topic": 1}
    assert [ev.lines for ev in c.evidence] == [list(plants["contradiction"])]  # type: ignore[call-overload]


def test_consistency_flags_the_other_system_prompt(bad: Bad) -> None:
    report, plants = bad
    c = report.check("consistency")
    assert c.status == "warn" and c.metrics["schema_valid_rate"] == 1.0
    assert lines_of(report, "consistency") == {("data.jsonl", plants["system_prompt"])}


def test_balance_finds_the_missing_class(bad: Bad) -> None:
    report, _ = bad
    b = report.check("balance")
    assert b.status == "warn" and b.metrics["topic"]["missing"] == ["gardening"]
    assert len(b.evidence) == 1


def test_coverage_lists_the_uncovered_production_cluster(bad: Bad) -> None:
    report, plants = bad
    c = report.check("coverage")
    assert c.status == "warn" and c.metrics["uncovered_clusters"] == 1
    assert lines_of(report, "coverage") == {("production.txt", n) for n in plants["crypto_lines"]}  # type: ignore[attr-defined]


def test_representativeness_finds_the_leak(bad: Bad) -> None:
    report, plants = bad
    r = report.check("representativeness")
    assert r.status == "fail" and r.metrics["leakage"] == {"test": 3, "exact": 1, "near": 0}
    assert lines_of(report, "representativeness") == {("test.jsonl", plants["leak"])}
    prod = r.metrics["production"]
    assert prod["coverage"] == pytest.approx(28 / 32) and prod["p_value"] > 0.01


def test_label_noise_finds_the_mislabelled_example(bad: Bad) -> None:
    report, plants = bad
    n = report.check("label_noise")
    assert n.status == "warn"
    assert lines_of(report, "label_noise") == {("data.jsonl", plants["noise"])}
    assert "topic is 'product', its neighbours say 'account'" in n.evidence[0].message


def test_clean_data_passes_every_check(tmp_path: Path) -> None:
    clean(tmp_path)
    report = audit(
        tmp_path / "data.jsonl", production=tmp_path / "production.txt", test=tmp_path / "test.jsonl",
        task=load_task(tmp_path),
    )
    assert {c.name: c.status for c in report.checks} == {c.name: "pass" for c in report.checks}, [
        (c.name, c.reason) for c in report.checks if c.status != "pass"
    ]
    assert report.status == "pass"
    again = AuditReport.from_dict(report.to_dict())
    assert again.to_dict() == report.to_dict()
