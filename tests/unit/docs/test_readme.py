"""The README's worked outputs are what the code prints now (``scripts/readme.py`` writes them; this checks them).

The fast blocks (``--help``-derived usage and flag tables, ``estimate``, ``cost``, ``report``/``decide`` on the
stored demo run, the facts counted from the data and the task files) are regenerated and compared exactly. The
demo's transcript cannot be regenerated in a test (a climb is 10 CPU-minutes): it is compared with the stored
run it came from (same numbers) and with the table ``tuneworth report`` prints for that run today (same columns).
On a mismatch, the message is the diff and the fix: ``python scripts/readme.py --write``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scripts import readme

from tests.helpers.paths import REPO

README = REPO / "README.md"
FIX = "run `python scripts/readme.py --write` (after a new demo run: `--write --run RUN_DIR`)"


def _stored_run() -> readme.Run:
    run = readme.load_stored_run()
    assert run is not None, f"no stored demo run at {readme.STORED_RUN}: {FIX}"
    return run


def test_the_stored_demo_run_is_a_finished_run_with_its_provenance() -> None:
    run = _stored_run()
    record = json.loads((run.path / "record.json").read_text())
    assert record["status"] == "finished"
    assert re.fullmatch(r"[0-9a-f]{7,40}", run.commit), run.commit
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run.date), run.date
    assert (run.path / "climb.log").is_file()


def test_every_marker_names_something_the_script_knows() -> None:
    text = README.read_text()
    facts = [m["spec"] for m in readme.FACT.finditer(text)]
    assert facts, "README has no generated facts"
    assert set(facts) <= set(readme.FACTS), sorted(set(facts) - set(readme.FACTS))
    blocks = [m["spec"] for m in readme.BLOCK.finditer(text)]
    assert any(b.startswith("tuneworth estimate") for b in blocks)
    assert any(b.startswith("tuneworth climb") for b in blocks), "the demo transcript block is missing"
    for m in readme.USAGE.finditer(text):
        readme.usage_block(m["spec"])  # raises on a command that does not exist
    assert readme.REFERENCE.search(text), "the CLI reference is not generated"
    assert readme.TASK_REFERENCE.search(text), "the task-file reference is not generated"


@pytest.mark.parametrize("doc", readme.DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_fast_blocks_match_what_the_code_prints_now(doc: Path) -> None:
    text = doc.read_text()
    new = readme.render(text, doc, _stored_run(), only_fast=True)
    diff = readme.compare(text, new)
    assert not diff, f"{doc.relative_to(REPO)} is out of date; {FIX}\n{diff}"


def test_benchmark_numbers_in_prose_come_from_the_result_files() -> None:
    text = (REPO / "benchmarks" / "README.md").read_text()
    facts = [m["spec"] for m in readme.FACT.finditer(text) if m["spec"].startswith("result:")]
    assert {f.split(".")[0] for f in facts} >= {"result:startup", "result:report"}
    assert readme.result_value("startup.tuneworth_help_ms") == str(
        json.loads((REPO / "benchmarks" / "results" / "startup.json").read_text())["tuneworth_help_ms"]
    )
    with pytest.raises(readme.ReadmeError, match="has no nothing_here"):
        readme.result_value("startup.nothing_here")


def test_a_stale_block_is_reported_with_a_diff(tmp_path: Path) -> None:
    """The check can fail: one changed number in a generated block makes ``--check`` exit 1."""
    text = README.read_text()
    m = next(m for m in readme.BLOCK.finditer(text) if m["spec"].startswith("tuneworth estimate"))
    stale = text[: m.start("body")] + re.sub(r"\d", "7", m["body"], count=1) + text[m.end("body") :]
    doc = tmp_path / "README.md"
    doc.write_text(stale[m.start() : m.end()])
    assert readme.main(["--check", str(doc)]) == 1
    doc.write_text(text[m.start() : m.end()])
    assert readme.main(["--check", str(doc)]) == 0


def _table_header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("┃"))
    return [c.strip() for c in line.strip("┃").split("┃")]


def _table_scores(text: str) -> dict[str, str]:
    rows = [line for line in text.splitlines() if line.startswith("│") and re.search(r"│ L\d", line)]
    out = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("│").split("│")]
        score = re.search(r"\d\.\d{3}", " ".join(cells))
        out[cells[0].split()[0]] = score.group(0) if score else ""
    return out


def test_the_demo_transcript_is_the_stored_run_in_todays_table_format() -> None:
    run = _stored_run()
    text = README.read_text()
    block = next(m for m in readme.BLOCK.finditer(text) if m["kind"] == "transcript")
    assert run.provenance in block["spec"], f"the demo block names another run than {run.path}; {FIX}"
    assert readme.transcript(run).rstrip() in block["body"], f"the demo block is not the stored run's log; {FIX}"
    summary = json.loads((run.path / "summary.json").read_text())
    stored = {row["name"]: f"{row['score']:.3f}" for row in summary["rungs"]}
    assert _table_scores(block["body"]) == stored, "the demo block's scores are not the stored run's"
    now = readme.run_command("tuneworth report RUN --no-html", run=run)
    assert _table_header(block["body"]) == _table_header(now), (
        f"`tuneworth report` prints other columns than the README's demo table; rerun the demo and {FIX}"
    )
    assert _table_scores(now) == stored


@pytest.mark.slow
def test_slow_blocks_match_too() -> None:
    """The audit block (embeds every example) and anything else marked ``[slow]``."""
    text = README.read_text()
    diff = readme.compare(text, readme.render(text, README, _stored_run()))
    assert not diff, f"README.md is out of date; {FIX}\n{diff}"


def test_marker_options_and_cleaning() -> None:
    command, flags, exit_code, provenance = readme._parse_spec(
        'tuneworth search docs "a b" -k 2 [shape] [slow] [exit=2] | run x, commit abc1234, 2026-12-02'
    )
    assert (command, flags, exit_code) == ('tuneworth search docs "a b" -k 2', {"shape", "slow"}, 2)
    assert provenance == "run x, commit abc1234, 2026-12-02"
    # a progress bar redrawn with carriage returns shows as its last state, trailing spaces dropped
    assert readme._clean("a\r\nloading 10%\rloading 100%   \nb\n\n") == "a\nloading 100%\nb\n"
    assert readme.shape("built in 26.90 s, docs-6d0c21ce74e122a5") == readme.shape("built in 131.06 s, docs-0f0663c0f9ce6733")


def test_an_unfinished_run_is_not_stored(tmp_path: Path) -> None:
    (tmp_path / "record.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(readme.ReadmeError, match="status 'running'"):
        readme.store_run(tmp_path, None, "abc1234")
    assert readme.main(["--check", "--run", str(tmp_path)]) == 2
