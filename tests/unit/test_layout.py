"""The structure numbers of issue 16, enforced: module and function sizes, the package's top level, docstrings.

Each test lists every offender (path:line and the number) in its failure message, so one run says what to split.
Lines are counted as ``wc -l`` does; a function's length is ``end_lineno - lineno + 1`` of its ``def`` (the
decorators excluded, nested functions counted inside their parent and on their own).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.paths import REPO

SRC = REPO / "src" / "tuneworth"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100
MAX_TOP_LEVEL_MODULES = 5


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _report(what: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {what}:\n  " + "\n  ".join(offenders)


def test_the_source_tree_is_found() -> None:
    assert len(_modules()) > 50, f"expected the package under {SRC}"


def test_no_module_over_500_lines() -> None:
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    offenders = [f"{_rel(p)}: {n} lines" for p, n in ranked if n > MAX_MODULE_LINES]
    assert not offenders, _report(f"modules over {MAX_MODULE_LINES} lines (split them by concept)", offenders)


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_function_over_100_lines() -> None:
    offenders = []
    for path in _modules():
        for fn in _functions(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if length > MAX_FUNCTION_LINES:
                offenders.append((length, f"{_rel(path)}:{fn.lineno} {fn.name}(): {length} lines"))
    offenders.sort(reverse=True)
    assert not offenders, _report(f"functions over {MAX_FUNCTION_LINES} lines", [o for _, o in offenders])


def test_at_most_five_modules_at_the_top_level() -> None:
    top = sorted(p.name for p in SRC.glob("*.py"))  # __init__ and __main__ count: src/tuneworth/*.py
    assert len(top) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(top)} modules at src/tuneworth/ (at most {MAX_TOP_LEVEL_MODULES}): {', '.join(top)}; "
        "move the others into the package of their concept"
    )


def test_every_module_has_a_docstring() -> None:
    offenders = []
    for path in _modules():
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            offenders.append(_rel(path))
    assert not offenders, _report("modules without a docstring (say what lives here)", offenders)


def test_the_limits_catch_an_offender(tmp_path: Path) -> None:
    """The checks can fail: a generated long function and a module without a docstring are found."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def long():\n{body}\n")
    (fn,) = _functions(tree)
    assert (fn.end_lineno or 0) - fn.lineno + 1 == MAX_FUNCTION_LINES + 1
    assert ast.get_docstring(ast.parse("x = 1\n")) is None
