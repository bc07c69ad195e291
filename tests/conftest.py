"""Shared fixtures: small tasks on disk and scripted fake providers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests exercise real generation: the persistent completion cache is off unless a test turns it on
# (subprocesses inherit this).
os.environ["TUNEWORTH_CACHE"] = "0"
# climb audits the data first; most tests only need its cheap checks (no embedding model load per
# subprocess). tests/test_audit_climb.py runs the full audit inside a climb.
os.environ.setdefault("TUNEWORTH_AUDIT", "cheap")

from tests.helpers.data import write_label_task


@pytest.fixture
def label_task(tmp_path: Path) -> Path:
    return write_label_task(tmp_path, """
[model]
name = "fake/echo"
batch_size = 8
[rungs.L2]
k = [1, 3]
""")
