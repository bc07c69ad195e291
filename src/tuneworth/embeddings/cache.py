"""A persistent embedding cache keyed by content hash, so re-embedding unchanged text costs nothing.

Wraps any embedder: ``embed(texts)`` looks every text up by ``sha256(model identity, text)`` in
SQLite (WAL, ``$TUNEWORTH_HOME/embeddings.sqlite``), embeds only the misses in one batch and stores
them. Re-indexing a documents directory where one file changed re-embeds that file's chunks only.
``TUNEWORTH_CACHE=0`` turns it off (as for the completion cache).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from tuneworth.embeddings.load import Embedder
from tuneworth.paths import home


def default_path() -> Path:
    return home() / "embeddings.sqlite"


class CachedEmbedder:
    """An ``Embedder`` that serves repeated texts from disk. ``hits``/``misses`` count texts."""

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.identity = getattr(inner, "identity", inner.name)
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB) WITHOUT ROWID"
        )
        self._db.commit()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def tokenizer(self) -> Any:
        return getattr(self.inner, "tokenizer", None)

    @property
    def token_spans(self) -> Any:
        """The inner model's token spans (``None`` when it has no local tokenizer)."""
        return getattr(self.inner, "token_spans", None)

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.identity}\x00{text}".encode()).digest()

    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        import numpy as np

        if not texts:
            return self.inner.embed([], batch_size=batch_size)
        keys = [self._key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                rows = self._db.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                for key, dim, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32, count=dim)
        todo = [i for i, k in enumerate(keys) if k not in found]
        first_of: dict[bytes, int] = {}
        for i in todo:
            first_of.setdefault(keys[i], i)
        if first_of:
            fresh = self.inner.embed([texts[i] for i in first_of.values()], batch_size=batch_size)
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [(k, int(v.shape[0]), v.astype(np.float32).tobytes()) for k, v in zip(first_of, fresh, strict=True)],
                )
                self._db.commit()
            for k, v in zip(first_of, fresh, strict=True):
                found[k] = np.asarray(v, dtype=np.float32)
        self.hits += len(texts) - len(first_of)
        self.misses += len(first_of)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def close(self) -> None:
        self._db.close()
