"""``--no-cache`` turns off the embedding cache too, not only the completion cache."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tuneworth.embeddings.load as embed_mod
from tests.helpers.data import write_chat
from tuneworth.cli import cli
from tuneworth.embeddings.cache import CachedEmbedder
from tuneworth.providers.cache import caches_off, enabled_by_env


class HashEmbedder:
    """Deterministic stand-in for all-MiniLM (the real model costs seconds to load): a unit vector per text."""

    name = "local/all-MiniLM-L6-v2"
    identity = "test-hash-embedder"
    max_tokens = 256
    calls = 0

    def __init__(self, device: str = "cpu") -> None:
        pass

    @property
    def dim(self) -> int:
        return 8

    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        HashEmbedder.calls += 1
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8) for t in texts]
        m = np.asarray(rows, dtype=np.float32).reshape(len(texts), 8) + 1
        return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embed_mod, "LocalMiniLM", HashEmbedder)
    monkeypatch.setattr(embed_mod, "_LOADED", {})
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TUNEWORTH_CACHE", "1")


def test_caches_off_block_gives_an_uncached_embedder(fake_embedder: None) -> None:
    assert isinstance(embed_mod.load_embedder(), CachedEmbedder)
    with caches_off():
        assert not enabled_by_env()
        inner = embed_mod.load_embedder()
        assert isinstance(inner, HashEmbedder)
    assert enabled_by_env() and isinstance(embed_mod.load_embedder(), CachedEmbedder)


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])


def test_climb_no_cache_writes_no_embeddings(fake_embedder: None, tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    write_chat(task / "data.jsonl", [(f"say thing {i}", f"thing number {i}") for i in range(30)])
    (task / "tuneworth.toml").write_text(
        'name = "text"\n[data]\npath = "data.jsonl"\nvalidation_size = 6\ntest_size = 6\n'
        '[output]\nkind = "text"\n[scoring]\nrecord = ["embedding"]\n[model]\nname = "fake/echo"\n'
        '[audit]\nenabled = false\n',
        encoding="utf-8",
    )
    db = tmp_path / "home" / "embeddings.sqlite"
    args = ["climb", str(task), "--rungs", "L1", "--runs-dir", str(tmp_path / "runs")]
    r = CliRunner().invoke(cli, [*args, "--no-cache"])
    assert r.exit_code == 0, r.output
    assert _rows(db) == 0  # every answer was embedded (see calls), none stored
    assert HashEmbedder.calls > 0
    assert enabled_by_env()  # the switch ends with the command
    r = CliRunner().invoke(cli, [*args, "--fresh"])
    assert r.exit_code == 0, r.output
    assert _rows(db) > 0  # without --no-cache the same climb fills the embedding cache
