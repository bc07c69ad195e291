"""The CLI and task-file references, read from the code: click's command definitions and the task's pydantic models.

Nothing is typed by hand, so a flag or a task key in the README exists and its default is the code's.
"""

from __future__ import annotations

import json
from pathlib import Path

from scripts.readme_run import ReadmeError, _fence

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
