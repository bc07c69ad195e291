"""The HTML report: self-contained, verdict first, and it renders in headless Chromium with its
charts drawn and no console errors (Debian package `chromium`; `make test` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.decide_records import improve, scores_with, write_run
from tuneworth.report.render import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]

# Appended to a copy of the report: what a reader would see, measured by the browser itself.
CHECK = """<script>
(function(){
  var errors = [];
  window.addEventListener('error', function(e){ errors.push(String(e.message)); });
  var charts = Array.prototype.map.call(document.querySelectorAll('svg.chart'), function(s){
    var r = s.getBoundingClientRect();
    return {label: s.getAttribute('aria-label'), w: r.width, h: r.height,
            paths: s.querySelectorAll('path').length, text: s.querySelectorAll('text').length,
            markers: s.querySelectorAll('use').length};
  });
  var v = document.getElementById('verdict');
  var vr = v ? v.getBoundingClientRect() : null;
  var out = {verdict: v ? v.innerText : null, verdict_top: vr ? vr.top : null, verdict_h: vr ? vr.height : 0,
             charts: charts, errors: errors, scripts: document.scripts.length,
             resources: performance.getEntriesByType('resource').map(function(e){ return e.name; })};
  var pre = document.createElement('pre'); pre.id = 'tuneworth-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install -y chromium)")
    return exe


def render_in_chromium(html: Path, tmp_path: Path) -> tuple[dict, str]:
    page = tmp_path / "check.html"
    page.write_text(html.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,900", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r'<pre id="tuneworth-check">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"chromium did not render the page (rc {proc.returncode}): {proc.stderr[-2000:]}"
    raw = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(raw), proc.stderr


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("html") / "run"
    l1 = scores_with(200, 0.55, 1)
    l2 = improve(l1, 30, 2)
    training = {
        "trained_tokens": 250_000,
        "learning_curve": [
            {"fraction": f, "train_examples": int(400 * f), "score": y} for f, y in ((0.25, 0.6), (0.5, 0.68), (1.0, 0.72))
        ],
    }
    audit = {
        "status": "warn",
        "counts": {"pass": 1, "warn": 1},
        "checks": [
            {"name": "format", "title": "Format", "status": "pass", "reason": "0 problems"},
            {"name": "balance", "title": "Balance", "status": "warn", "reason": "<script>alert(1)</script>"},
        ],
    }
    write_run(
        run,
        {"L1": l1, "L2": l2, "L4": improve(l2, 20, 3)},
        tokens={"L1": (120.0, 10.0), "L2": (900.0, 10.0), "L4": (60.0, 8.0)},
        economics={"requests_per_month": 4_000_000},
        extra={"training": training, "audit": audit},
        outputs={"L2": ["<b>not bold</b> & friends"] * 200},
        models={"L4": "openai/ft:gpt-4o-mini:acme:x1"},  # a model per rung: the trade chart's points
    )
    return write_report(run).html


def test_report_is_self_contained_and_verdict_first(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html and "@import" not in html and not re.search(r"url\((?!#)", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched at view time
    assert html.index('id="verdict"') < html.index("The five questions") < html.index('id="chart-scores"')
    for section in ("chart-scores", "chart-trade", "chart-breakeven", "chart-curve", "Data audit", "Per-item flips", "Resolved configuration"):
        assert section in html
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; friends" in html  # model outputs are escaped
    assert "&lt;script&gt;alert(1)" in html
    md = report.with_name("report.md").read_text(encoding="utf-8")
    assert md.startswith("# tuneworth report") and "## The five questions" in md


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    result, stderr = render_in_chromium(report, tmp_path)
    assert result["verdict"] and "Fine-tune" in result["verdict"]
    assert 0 <= result["verdict_top"] < 300 and result["verdict_h"] > 20  # first thing on screen
    labels = {c["label"] for c in result["charts"]}
    assert labels == {
        "score per rung with 95% intervals",
        "score against latency and cost per rung",
        "monthly cost against monthly volume per rung",
        "learning curve",
    }
    for c in result["charts"]:
        assert c["w"] > 300 and c["h"] > 100 and c["paths"] > 3 and c["text"] > 3, c
    trade = next(c for c in result["charts"] if c["label"] == "score against latency and cost per rung")
    assert trade["markers"] >= 6, trade  # every rung drawn on both panels: latency and $ per 1k
    assert result["errors"] == [] and result["scripts"] == 1  # only the check script itself
    assert result["resources"] == []  # the page loaded nothing
    console = [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


def test_one_row_shows_the_same_stored_interval_in_every_view(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The interval is computed once (summarize) and stored on the row: the terminal table, summary.md,
    report.html, report.md and the decision print those bounds, none recomputes them. The stored
    bounds are overwritten with odd values first, so a view that recomputed would show other numbers."""
    import json

    from rich.console import Console

    from tuneworth.cli.decide import decide_cmd
    from tuneworth.record.schema import Summary
    from tuneworth.report.markdown import render_markdown
    from tuneworth.report.render import load_run, write_report
    from tuneworth.report.terminal import results_table

    run_dir = report.parent
    data = json.loads((run_dir / "summary.json").read_text())
    for row in data["rungs"]:
        row["interval"] = {**row["interval"], "lo": row["score"] - 0.0123, "hi": row["score"] + 0.0456}
    (run_dir / "summary.json").write_text(json.dumps(data))
    write_report(run_dir)
    run = load_run(run_dir)
    summary = run.summary
    assert isinstance(summary, Summary)
    console = Console(width=200, record=True)
    console.print(results_table(summary))
    views = {
        "terminal": console.export_text(),
        "summary.md": render_markdown(run.header, summary),
        "report.html": (run_dir / "report.html").read_text(encoding="utf-8"),
        "report.md": (run_dir / "report.md").read_text(encoding="utf-8"),
    }
    try:
        decide_cmd.main([str(run_dir)], standalone_mode=False)
    finally:
        views["decision"] = capsys.readouterr().out
    for row in summary.rungs:
        assert row.score is not None
        text = f"{row.score:.3f} [{row.score - 0.0123:.3f}, {row.score + 0.0456:.3f}]"
        for name, view in views.items():
            assert text in view, f"{row.name}: {text} not in the {name} view"


def test_flips_show_input_gold_and_both_outputs(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    flips = html[html.index("Per-item flips") :]
    for head in ("<th>input</th>", "<th>gold</th>", "<th>L2 output</th>", "<th>L4 output</th>"):
        assert head in flips
    assert "question " in flips and "gold " in flips and "&lt;b&gt;not bold&lt;/b&gt;" in flips
    md = report.with_name("report.md").read_text(encoding="utf-8")
    assert "| item | input | gold | score | L2 output | L4 output |" in md


def test_flips_truncate_long_inputs_at_a_word() -> None:
    from tuneworth.report.flips import shorten

    text = "word " * 100
    short = shorten(text, 40)
    assert len(short) <= 40 and short.endswith("…") and not short[:-1].endswith(" ")
    assert shorten("a\nb  c") == "a b c" and shorten(None) == ""


def test_the_real_v1_record_renders_with_its_stored_intervals(tmp_path: Path) -> None:
    """A version-1 record (the bundled demo, pre-refactor code) renders, and every view shows the
    interval v1 stored on each row (upgraded into ``interval``), not a recomputed one."""
    import shutil

    from tests.helpers.paths import REPO
    from tuneworth.report.render import write_report

    run_dir = tmp_path / "v1"
    shutil.copytree(REPO / "tests" / "fixtures" / "records" / "v1", run_dir)
    raw = json.loads((run_dir / "summary.json").read_text())["rungs"]
    report = write_report(run_dir)
    html = report.html.read_text(encoding="utf-8")
    md = report.markdown.read_text(encoding="utf-8")
    for row in raw:
        text = f"{row['score']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        assert text in html and text in md, text
    assert report.summary.decision is not None and report.summary.decision.verdict
