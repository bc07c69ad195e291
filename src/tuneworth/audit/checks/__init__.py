"""The checklist: one module per check, each exposing ``NAME``, ``TITLE`` and ``run(ctx) -> CheckResult``.

Adding a check is one new module and one line in ``CHECKS``. Order is the checklist's order.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

CHECKS = [
    "format",
    "size",
    "duplicates",
    "contradictions",
    "consistency",
    "balance",
    "coverage",
    "representativeness",
    "label_noise",
]


def load_check(name: str) -> ModuleType:
    return import_module(f"tuneworth.audit.checks.{name}")
