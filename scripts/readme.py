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
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", REPO / "benchmarks" / "README.md"]
STORED_RUN = REPO / "tests" / "unit" / "docs" / "demo_run"
RUN_FILES = ("record.json", "items.jsonl", "summary.json", "summary.md")
WIDTH = 120
DISPLAY_HOME = "~/.cache/tuneworth"

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


class ReadmeError(Exception):
    """A marker that cannot be rendered: names the file, the line and what is wrong."""


@dataclass(frozen=True)
class Run:
    """The stored demo run that ``RUN`` blocks and ``demo.*`` facts are rendered from."""

    path: Path
    name: str
    commit: str
    date: str

    @property
    def provenance(self) -> str:
        return f"run {self.name}, commit {self.commit}, {self.date}"


# ---------------------------------------------------------------- running commands


def _env(home: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(COLUMNS=str(WIDTH), LINES="50", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    env.pop("FORCE_COLOR", None)
    if home:
        env["TUNEWORTH_HOME"] = home
    return env


def run_command(
    command: str, *, run: Run | None, expect_exit: int = 0, stderr: bool = False, timeout: float = 900
) -> str:
    """Run ``tuneworth ...`` as a user would; its stdout (and stderr with ``stderr``), ``RUN`` = a copy of the run.

    stderr carries progress lines with timings, so blocks show stdout unless marked ``[stderr]``.
    """
    args = shlex.split(command)
    if not args or args[0] != "tuneworth":
        raise ReadmeError(f"only tuneworth commands are run, not {command!r}")
    with tempfile.TemporaryDirectory(prefix="tw-readme-") as tmp:
        shown = command
        if "RUN" in args:
            if run is None:
                raise ReadmeError(f"{command!r} needs the stored demo run (--run RUN_DIR, or {STORED_RUN})")
            copy = Path(tmp) / "runs" / run.name
            shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("climb.log", "provenance.json"))
            args = [str(copy) if a == "RUN" else a for a in args]
            shown = command.replace("RUN", f"runs/{run.name}")
        proc = subprocess.run(
            [sys.executable, "-m", "tuneworth", *args[1:]],
            cwd=REPO,
            env=_env(os.environ.get("TUNEWORTH_HOME")),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr else subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        out = proc.stdout
        if proc.returncode != expect_exit:
            said = out + (proc.stderr or "")
            raise ReadmeError(f"{command!r} exited {proc.returncode} (expected {expect_exit}):\n{said[-2000:]}")
        if "RUN" in shlex.split(command):
            out = out.replace(str(Path(tmp) / "runs"), "runs")
    return f"$ {shown}\n{_clean(out)}"


def _clean(text: str) -> str:
    """What a reader would have seen: progress redraws collapsed, home paths shown as the default home."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            line = line.rsplit("\r", 1)[-1]
        lines.append(line.rstrip())
    out = "\n".join(lines).strip("\n") + "\n"
    home = os.environ.get("TUNEWORTH_HOME")
    if home:
        out = out.replace(home.rstrip("/"), DISPLAY_HOME)
    return out


def _parse_spec(spec: str) -> tuple[str, set[str], int, str]:
    """``CMD [shape] [exit=2] | provenance`` -> (command, flags, exit status, provenance)."""
    command, _, provenance = spec.partition(" | ")
    flags = set(re.findall(r"\[(\w+(?:=\d+)?)\]", command))
    command = re.sub(r"\s*\[\w+(?:=\d+)?\]", "", command).strip()
    exit_code = next((int(f.split("=")[1]) for f in flags if f.startswith("exit=")), 0)
    return command, {f for f in flags if "=" not in f}, exit_code, provenance.strip()


def _fence(text: str) -> str:
    return f"```\n{text.rstrip()}\n```\n"


# ---------------------------------------------------------------- the stored run


def load_stored_run(path: Path = STORED_RUN) -> Run | None:
    """The run README blocks were rendered from, with the provenance stored beside it (None when absent)."""
    meta = path / "provenance.json"
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text())
    return Run(path=path, name=info["name"], commit=info["commit"], date=info["date"])


def store_run(source: Path, log: Path | None, commit: str | None) -> Run:
    """Copy a finished run (and its terminal log) into the repository so the README can be re-rendered."""
    if not (source / "record.json").is_file():
        raise ReadmeError(f"{source} is not a run directory (no record.json)")
    record = json.loads((source / "record.json").read_text())
    if record.get("status") != "finished":
        raise ReadmeError(f"{source} has status {record.get('status')!r}: run the demo to the end first")
    if STORED_RUN.exists():
        shutil.rmtree(STORED_RUN)
    STORED_RUN.mkdir(parents=True)
    for name in RUN_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, STORED_RUN / name)
    log = log or next((p for p in (source / "climb.log", source.parent / "log.txt") if p.is_file()), None)
    if log is not None:
        raw = log.read_bytes().decode("utf-8", errors="replace")  # not read_text: it turns "\r" into "\n"
        text = _clean(raw).replace(str(source.resolve().parent), "runs")
        (STORED_RUN / "climb.log").write_text(text)
    commit = commit or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    when = record.get("finished_at") or record.get("started_at") or ""
    if isinstance(when, int | float):  # v1 records store unix times
        when = datetime.fromtimestamp(when, UTC).isoformat()
    date = str(when)[:10]
    info = {"name": source.resolve().name, "commit": commit, "date": date}
    (STORED_RUN / "provenance.json").write_text(json.dumps(info, indent=2) + "\n")
    return Run(path=STORED_RUN, **info)


def transcript(run: Run | None) -> str:
    if run is None or not (run.path / "climb.log").is_file():
        raise ReadmeError(f"a transcript block needs the stored run's climb.log ({STORED_RUN}; --run with --log)")
    return (run.path / "climb.log").read_text()


# ---------------------------------------------------------------- usage from click


def _commands() -> dict[str, object]:
    import click

    from tuneworth.cli import cli

    found: dict[str, object] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = cmd

    walk(cli, "")
    return found


METAVARS = {"integer": "N", "integer range": "N", "float": "X", "float range": "X", "text": "TEXT", "path": "PATH"}


def _param_usage(param: object) -> str:
    import click

    assert isinstance(param, click.Parameter)
    if isinstance(param, click.Argument):
        name = param.human_readable_name
        text = f"{name}..." if param.nargs == -1 else name
        return text if param.required else f"[{text}]"
    assert isinstance(param, click.Option)
    flag = max(param.opts, key=len)
    if param.is_flag:
        return f"[{flag}]"
    metavar = param.metavar or METAVARS.get(param.type.name, param.type.name.upper())
    if isinstance(param.type, click.Choice):
        metavar = "|".join(str(c) for c in param.type.choices)
    many = " ..." if param.multiple else ""
    return f"{flag} {metavar}{many}" if param.required else f"[{flag} {metavar}{many}]"


def synopsis(name: str) -> str:
    """``tuneworth NAME ARGS [--flag VALUE] ...`` wrapped at the README's width."""
    cmd = _commands().get(name)
    if cmd is None:
        raise ReadmeError(f"no command `tuneworth {name}` (known: {', '.join(_commands())})")
    parts = [_param_usage(p) for p in cmd.params if "--help" not in getattr(p, "opts", [])]  # type: ignore[attr-defined]
    head = f"tuneworth {name}"
    lines, line = [], head
    for part in parts:
        if len(line) + 1 + len(part) > 108:
            lines.append(line)
            line = " " * len(head)
        line += " " + part
    lines.append(line)
    return "\n".join(lines)


def usage_block(names: str) -> str:
    """``all`` or comma-separated command names (``cache stats`` for a group's command)."""
    chosen = list(_commands()) if names.strip() == "all" else [n.strip() for n in names.split(",")]
    return _fence("\n".join(synopsis(n) for n in chosen))


def cli_reference() -> str:
    """Every command: synopsis, its one-line help and a table of its flags, all read from click."""
    import click

    out = []
    for name, cmd in _commands().items():
        assert isinstance(cmd, click.Command)
        short = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
        out.append(f"**`tuneworth {name}`**: {short}\n\n{_fence(synopsis(name))}")
        rows = []
        for p in cmd.params:
            if isinstance(p, click.Option) and "--help" not in p.opts:
                shown = isinstance(p.default, str | int | float | Path) and not p.is_flag and p.default != ""
                default = f" (default: `{p.default}`)" if shown else ""
                helptext = (p.help or "").replace("|", "\\|")
                rows.append(f"| `{', '.join(p.opts)}` | {helptext}{default} |")
        if rows:
            out.append("| flag | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(out)


def _submodel(annotation: object) -> type | None:
    """The pydantic model of ``Model`` or ``Model | None`` (a section of the task file), else None."""
    import types
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1 and isinstance(rest[0], type) and issubclass(rest[0], BaseModel):
            return rest[0]
    return None


def _default_value(field: object) -> object:
    from pydantic.fields import FieldInfo
    from pydantic_core import PydanticUndefined

    assert isinstance(field, FieldInfo)
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default if field.default is not PydanticUndefined else PydanticUndefined


def _dict_of_models(annotation: object) -> type | None:
    """The value model of ``dict[str, Model]`` (a table of named sections), else None."""
    import typing

    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and len(args) == 2:
        return _submodel(args[1])
    return None


def _shown_default(value: object) -> str:
    from pydantic_core import PydanticUndefined

    if value is PydanticUndefined:
        return "required"
    if value is None or value in ({}, [], ""):
        return ""
    return f"`{json.dumps(value, default=str)}`"


def task_reference() -> str:
    """Every key of ``tuneworth.toml``: its default and its docstring, read from the task's pydantic models.

    A section's defaults are those of the section's own default (``judge.model`` is a model config with a
    smaller ``max_tokens`` than ``[model]``), not of its class.
    """
    from pydantic import BaseModel

    from tuneworth.config.task import Task

    rows: list[str] = []

    def walk(model: type, prefix: str, instance: object) -> None:
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            key = prefix + (field.alias or name)
            default = getattr(instance, name) if isinstance(instance, BaseModel) else _default_value(field)
            sub = _submodel(field.annotation)
            if sub is not None:
                walk(sub, key + ".", default if isinstance(default, BaseModel) else None)
                continue
            item = _dict_of_models(field.annotation)
            if item is not None:  # e.g. economics.prices."provider/name".input
                walk(item, f'{key}."NAME".', None)
                continue
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            meaning = " ".join((field.description or "").split()).replace("|", "\\|")
            rows.append(f"| `{key}` | {_shown_default(default)} | {meaning} |")

    walk(Task, "", None)
    return "| key | default | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n"


# ---------------------------------------------------------------- facts


@functools.cache
def _triage_split() -> dict[str, int]:
    out = run_command("tuneworth validate examples/support-triage", run=None)
    m = re.search(r"train (\d+), validation (\d+), test (\d+)", out)
    if not m:
        raise ReadmeError(f"`tuneworth validate` printed no split sizes:\n{out}")
    return dict(zip(("train", "validation", "test"), map(int, m.groups()), strict=True))


def _lines(path: str) -> int:
    return sum(1 for line in (REPO / path).read_text().split("\n") if line.strip())


def _toml(path: str, *keys: str) -> object:
    value: object = tomllib.loads((REPO / path).read_text())
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise ReadmeError(f"{path} has no {'.'.join(keys)}")
        value = value[key]
    return value


@functools.cache
def _summary(run: Run | None) -> dict[str, object]:
    if run is None:
        raise ReadmeError(f"demo.* facts need the stored demo run ({STORED_RUN})")
    return json.loads(run_command("tuneworth report RUN --json", run=run).split("\n", 1)[1])


def _rung_score(rung: str) -> Callable[[Run | None], str]:
    def score(run: Run | None) -> str:
        rows = _summary(run).get("rungs", [])
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("name") == rung:
                return f"{row['score']:.3f}"
        raise ReadmeError(f"the stored run has no {rung} row")

    return score


def _comparison(rung: str) -> Callable[[Run | None], str]:
    """The decision statistics' own sentence for RUNG against the best cheaper rung."""

    def text(run: Run | None) -> str:
        stats = _summary(run).get("statistics")
        comparisons = stats.get("comparisons", []) if isinstance(stats, dict) else []
        for c in comparisons:
            if isinstance(c, dict) and c.get("rung") == rung and c.get("text"):
                return str(c["text"]).rstrip(".")
        raise ReadmeError(f"the stored run's summary has no statistics.comparisons entry with a text for {rung}")

    return text


def _minutes(seconds: float) -> str:
    m, sec = divmod(round(seconds), 60)
    return f"{m} min {sec:02d} s" if m else f"{sec} s"


def _timing(run: Run | None) -> str:
    """Wall time of the stored run: the whole climb, then the audit and each rung (from its record)."""
    if run is None:
        raise ReadmeError(f"demo.timing needs the stored demo run ({STORED_RUN})")
    record = json.loads((run.path / "record.json").read_text())
    rungs = record.get("rungs") or {}
    parts = [f"{name} {_minutes(r['seconds'])}" for name, r in rungs.items() if isinstance(r, dict) and r.get("seconds")]
    audit = record.get("audit") or {}
    if isinstance(audit, dict) and audit.get("seconds"):
        parts.insert(0, f"audit {_minutes(audit['seconds'])}")
    total = record.get("seconds")
    if not total or not parts:
        raise ReadmeError(f"{run.path / 'record.json'} has no seconds for the run and its rungs")
    cache = record.get("cache") or {}
    if isinstance(cache, dict) and "hits" in cache:
        parts.append(f"{cache['hits']} answers from the completion cache" if cache.get("enabled", True) else "cache off")
    return f"{_minutes(total)} wall ({', '.join(parts)})"


TRIAGE = "examples/support-triage"
FACTS: dict[str, Callable[[Run | None], str]] = {
    "triage.examples": lambda _r: str(_lines(f"{TRIAGE}/data.jsonl")),
    "triage.train": lambda _r: str(_triage_split()["train"]),
    "triage.validation": lambda _r: str(_triage_split()["validation"]),
    "triage.test": lambda _r: str(_triage_split()["test"]),
    "triage.lora_layers": lambda _r: str(_toml(f"{TRIAGE}/tuneworth.toml", "rungs", "L4", "lora_layers")),
    "triage.n_epochs": lambda _r: str(_toml(f"{TRIAGE}/tuneworth.toml", "rungs", "L4", "n_epochs")),
    "brand.examples": lambda _r: str(
        _lines("examples/brand-voice/train.jsonl") + _lines("examples/brand-voice/test.jsonl")
    ),
    "brand.test": lambda _r: str(_lines("examples/brand-voice/test.jsonl")),
    "brand.calibration": lambda _r: str(_lines("examples/brand-voice/calibration.jsonl")),
    "demo.L1.score": _rung_score("L1"),
    "demo.L2.score": _rung_score("L2"),
    "demo.L3.score": _rung_score("L3"),
    "demo.compare.L2": _comparison("L2"),
    "demo.compare.L3": _comparison("L3"),
    "demo.verdict": lambda r: str(_summary(r)["decision"]["verdict"]),  # type: ignore[index]
    "demo.timing": _timing,
    "demo.run": lambda r: r.provenance if r else "(no stored run)",
}


# ---------------------------------------------------------------- rendering a document


def result_value(spec: str) -> str:
    """``startup.tuneworth_help_ms`` -> that value of ``benchmarks/results/startup.json`` (lists joined by " / ")."""
    name, _, keys = spec.partition(".")
    path = REPO / "benchmarks" / "results" / f"{name}.json"
    if not path.is_file():
        raise ReadmeError(f"no benchmark result {path.relative_to(REPO)}")
    value: object = json.loads(path.read_text())
    for key in keys.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ReadmeError(f"{path.relative_to(REPO)} has no {keys}")
        value = value[key]
    return " / ".join(map(str, value)) if isinstance(value, list) else str(value)


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
                body = transcript(run)
            else:
                body = cache.get(command) or run_command(
                    command, run=run, expect_exit=exit_code, stderr="stderr" in flags
                )
                cache[command] = body
        except ReadmeError as e:
            raise ReadmeError(f"{where}: {e}") from e
        return f"<!-- {m['kind']}: {spec} -->\n{_fence(body)}{m['close']}"

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
