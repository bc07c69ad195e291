"""Every source file the documentation names exists: a module moved or removed must take its mentions along.

A path in backticks that ends in ``.py`` (``decide/statistics.py``, ``tests/unit/...``, ``benchmarks/...``) is
looked up from the repository root, ``src/``, ``src/tuneworth/`` and ``benchmarks/``, as a reader would; a bare
file name (``reader.py`` after ``audit/``) anywhere under ``src/``, ``benchmarks/`` or ``tests/``.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.paths import REPO

DOCS = ["README.md", "ARCHITECTURE.md", "benchmarks/README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
PATH = re.compile(r"`([\w./-]+\.py)`")
ROOTS = [REPO, REPO / "src", REPO / "src" / "tuneworth", REPO / "benchmarks"]


def _exists(name: str) -> bool:
    if "/" not in name:  # a bare name next to its package (`audit/` (`reader.py`, ...)): anywhere
        return any(any((REPO / d).rglob(name)) for d in ("src", "benchmarks", "tests"))
    return any((root / name).is_file() for root in ROOTS)


def missing_paths(text: str) -> list[str]:
    out = []
    for m in PATH.finditer(text):
        if not _exists(m.group(1)):
            out.append(f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(1)}")
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_every_named_source_file_exists(doc: str) -> None:
    missing = missing_paths((REPO / doc).read_text(encoding="utf-8"))
    assert not missing, f"{doc} names files that do not exist (moved or removed?):\n  " + "\n  ".join(missing)


def test_a_moved_module_is_caught() -> None:
    text = "see `decide/statistics.py`,\n`models/http1.py` and `reader.py`, `gone.py`"
    assert missing_paths(text) == ["line 2: models/http1.py", "line 2: gone.py"]
