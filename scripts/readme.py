"""Regenerate (``--write``) or check (``--check``) every block of real output in the README files.

A block is a fenced code block between two HTML comments that say what produced it, so no output is ever
pasted by hand:

* ``<!-- output: tuneworth estimate examples/support-triage -->`` ... ``<!-- /output -->``: the script runs
  the command (``python -m tuneworth``, 120 columns, stdout)
  and splices ``$ command`` and its output between the markers. A command that reads the stored demo run
  names it as ``RUN``; it runs on a copy of that run (``report`` writes files into it) and the marker gets the
  run's provenance appended (``| run NAME, commit SHA, DATE``). Options after the command, before ``|``:
  ``[shape]`` compares with digits masked (timings), ``[stderr]`` shows stderr too (progress lines),
  ``[slow]`` leaves the block to the slow test, ``[exit=N]`` expects that exit status.
* ``<!-- transcript: tuneworth climb examples/support-triage -->``: the stored demo run's own terminal
  transcript (its ``climb.log``), cleaned of progress-bar redraws. A full demo is 10 CPU-minutes, so it is
  never re-run here: ``--write --run RUN_DIR [--log FILE]`` stores that run (record, items, summary, log) under
  ``tests/unit/docs/demo_run/`` and every ``RUN`` block and ``demo.*`` fact is re-rendered from the copy.
* ``<!-- usage: climb, report -->`` (or ``all``): one synopsis line per command, generated from the click definitions;
  ``<!-- cli-reference -->``: every command with its arguments and flags; ``<!-- task-reference -->``: every
  task-file key with its default and docstring, from the task's pydantic models.
* ``<!-- fact: triage.examples -->417<!-- /fact -->``: one number or phrase computed from the data, the task
  files or the stored run (see ``FACTS``), so the prose cannot drift from them.
* ``<!-- fact: result:startup.tuneworth_help_ms -->157.1<!-- /fact -->``: a value from a benchmark's result
  file (``benchmarks/results/startup.json``), so a re-measured number reaches the prose by ``--write``.
* ``<!-- recorded: ... -->`` marks a transcript that cannot be regenerated here (a server session, a run on
  another machine); the script only lists them so a reader knows which blocks are history.

``--check`` exits 1 and prints a unified diff when any block differs from what the code prints now.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as ``python scripts/readme.py``: make ``scripts.*`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.readme_facts import FACTS, result_value
from scripts.readme_reference import cli_reference, synopsis, task_reference, usage_block
from scripts.readme_run import (
    REPO,
    STORED_RUN,
    ReadmeError,
    Run,
    _clean,
    _fence,
    load_stored_run,
    run_command,
    store_run,
    transcript,
)

__all__ = [
    "FACTS",
    "REPO",
    "STORED_RUN",
    "ReadmeError",
    "Run",
    "_clean",
    "cli_reference",
    "load_stored_run",
    "result_value",
    "run_command",
    "store_run",
    "synopsis",
    "task_reference",
    "transcript",
    "usage_block",
]

DOCS = [REPO / "README.md", REPO / "benchmarks" / "README.md"]
BLOCK = re.compile(
    r"(?P<open><!-- (?P<kind>output|transcript): (?P<spec>.*?) -->)\n(?P<body>.*?)(?P<close><!-- /(?P=kind) -->)",
    re.S,
)
USAGE = re.compile(r"(?P<open><!-- usage: (?P<spec>.*?) -->)\n(?P<body>.*?)(?P<close><!-- /usage -->)", re.S)
TASK_REFERENCE = re.compile(
    r"(?P<open><!-- task-reference -->)\n(?P<body>.*?)(?P<close><!-- /task-reference -->)", re.S
)
REFERENCE = re.compile(r"(?P<open><!-- cli-reference -->)\n(?P<body>.*?)(?P<close><!-- /cli-reference -->)", re.S)
FACT = re.compile(r"(?P<open><!-- fact: (?P<spec>[\w.:\-]+) -->)(?P<body>.*?)(?P<close><!-- /fact -->)", re.S)
RECORDED = re.compile(r"<!-- recorded: (?P<spec>.*?) -->")


def _parse_spec(spec: str) -> tuple[str, set[str], int, str]:
    """``CMD [shape] [exit=2] | provenance`` -> (command, flags, exit status, provenance)."""
    command, _, provenance = spec.partition(" | ")
    flags = set(re.findall(r"\[(\w+(?:=\d+)?)\]", command))
    command = re.sub(r"\s*\[\w+(?:=\d+)?\]", "", command).strip()
    exit_code = next((int(f.split("=")[1]) for f in flags if f.startswith("exit=")), 0)
    return command, {f for f in flags if "=" not in f}, exit_code, provenance.strip()


# ---------------------------------------------------------------- rendering a document


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def render(text: str, path: Path, run: Run | None, *, only_fast: bool = False) -> str:
    """The document with every generated block replaced by what the code produces now."""
    cache: dict[str, str] = {}

    def block(m: re.Match[str]) -> str:
        command, flags, exit_code, _old = _parse_spec(m["spec"])
        where = f"{path.name}:{_line_of(text, m.start())}"
        uses_run = "RUN" in shlex.split(command) or m["kind"] == "transcript"
        if only_fast and "slow" in flags:
            return m[0]
        spec = command + "".join(f" [{f}]" for f in sorted(flags)) + (f" [exit={exit_code}]" if exit_code else "")
        if uses_run and run is not None:
            spec += f" | {run.provenance}"
        try:
            if m["kind"] == "transcript":
                body = f"$ {command}\n{transcript(run)}"
            else:
                body = cache.get(command) or run_command(
                    command, run=run, expect_exit=exit_code, stderr="stderr" in flags
                )
                cache[command] = body
        except ReadmeError as e:
            raise ReadmeError(f"{where}: {e}") from e
        fenced = _fence(body)
        if "shape" in flags and shape(fenced) == shape(m["body"]):
            fenced = m["body"]  # only timings or hashes differ: keep the block, so --write leaves no noise
        return f"<!-- {m['kind']}: {spec} -->\n{fenced}{m['close']}"

    def fact(m: re.Match[str]) -> str:
        name = m["spec"]
        if name.startswith("result:"):
            try:
                return f"{m['open']}{result_value(name.removeprefix('result:'))}{m['close']}"
            except ReadmeError as e:
                raise ReadmeError(f"{path.name}:{_line_of(text, m.start())}: {e}") from e
        if name not in FACTS:
            raise ReadmeError(f"{path.name}:{_line_of(text, m.start())}: unknown fact {name!r} (known: {', '.join(FACTS)})")
        if name not in cache:
            try:
                cache[name] = FACTS[name](run)
            except (ReadmeError, KeyError, TypeError, ValueError) as e:
                raise ReadmeError(f"{path.name}:{_line_of(text, m.start())}: fact {name}: {e}") from e
        return f"{m['open']}{cache[name]}{m['close']}"

    text = BLOCK.sub(block, text)
    text = USAGE.sub(lambda m: f"{m['open']}\n{usage_block(m['spec'])}{m['close']}", text)
    text = REFERENCE.sub(lambda m: f"{m['open']}\n{cli_reference()}{m['close']}", text)
    text = TASK_REFERENCE.sub(lambda m: f"{m['open']}\n{task_reference()}{m['close']}", text)
    return FACT.sub(fact, text)


def shape(text: str) -> str:
    """Digits masked: for blocks marked ``[shape]`` (timings) only the structure is compared."""
    return re.sub(r"\d+", "#", re.sub(r"\b[0-9a-f]{12,}\b", "HASH", text))


def compare(old: str, new: str) -> str:
    """A unified diff of the generated blocks, ``[shape]`` blocks compared with digits masked."""
    masked_old, masked_new = old, new
    for src in (old, new):
        for m in BLOCK.finditer(src):
            if "[shape]" in m["spec"]:
                masked_old = masked_old.replace(m["body"], shape(m["body"]))
                masked_new = masked_new.replace(m["body"], shape(m["body"]))
    if masked_old == masked_new:
        return ""
    return "".join(difflib.unified_diff(masked_old.splitlines(True), masked_new.splitlines(True), "README (file)", "README (code now)"))


def recorded(text: str) -> list[str]:
    return [m["spec"] for m in RECORDED.finditer(text)]


def _shown(path: Path) -> str:
    return str(path.resolve().relative_to(REPO)) if path.resolve().is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate every block in place")
    mode.add_argument("--check", action="store_true", help="exit 1 and show a diff when a block differs")
    parser.add_argument("--run", type=Path, help="a finished demo run directory to store and render from")
    parser.add_argument("--log", type=Path, help="that run's terminal log (default: RUN/climb.log or ../log.txt)")
    parser.add_argument("--commit", help="the commit that produced --run (default: HEAD)")
    parser.add_argument("files", nargs="*", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    try:
        if args.run and args.check:
            raise ReadmeError("--run stores a run; use it with --write, then --check")
        run = store_run(args.run, args.log, args.commit) if args.run else load_stored_run()
        failed = False
        for path in args.files:
            old = path.read_text()
            new = render(old, path, run)
            for spec in recorded(new):
                print(f"{_shown(path)}: recorded (not regenerated): {spec}")
            if args.write:
                if new != old:
                    path.write_text(new)
                print(f"{_shown(path)}: {'rewritten' if new != old else 'up to date'}")
            elif diff := compare(old, new):
                failed = True
                print(diff)
    except ReadmeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if failed:
        print("README blocks differ from the code's output: run python scripts/readme.py --write", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
